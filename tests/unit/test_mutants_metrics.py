"""results/metrics.py: values pinned exactly where `make mutate`
found the other tests let a mutant through."""

from __future__ import annotations

import pytest

from results import metrics


def test_named_refuses_unknown_names_listing_each_once() -> None:
    with pytest.raises(KeyError) as caught:
        metrics.named("iops", "nope", "nada")
    assert caught.value.args == ("not in results.metrics (add them to TABLE): nope, nada",)


def _doc(declared: dict[str, str]) -> dict[str, object]:
    return {"workloads": {"disk": {"variants": {"rand": {"metrics": {"iops": declared}}}}}}


def test_a_declared_metric_without_a_unit_has_the_empty_unit() -> None:
    assert metrics.unit_and_direction(_doc({"better": "lower"}), "disk", "rand", "iops") == \
        ("", "lower")


def test_a_declared_direction_that_is_neither_higher_nor_lower_is_not_judged() -> None:
    # the declaration wins over the table (iops is "higher" there), and a bad one reads None
    assert metrics.unit_and_direction(_doc({"unit": "IO/s", "better": "sideways"}),
                                      "disk", "rand", "iops") == ("IO/s", None)
    assert metrics.unit_and_direction(_doc({"unit": "IO/s", "better": "higher"}),
                                      "disk", "rand", "iops") == ("IO/s", "higher")


@pytest.mark.parametrize(("name", "limit"), [
    ("iops", 0.15), ("clat_p99_us", 0.25), ("launch_to_exit_ms", 0.20), ("retransmits", 1.0),
    ("events_per_s", 0.10), ("no_such_metric", metrics.DEFAULT_CV_LIMIT)])
def test_each_metric_has_its_own_cv_limit_and_an_unknown_one_the_default(name: str,
                                                                        limit: float) -> None:
    assert metrics.cv_limit(name) == limit
    assert metrics.DEFAULT_CV_LIMIT == 0.10
