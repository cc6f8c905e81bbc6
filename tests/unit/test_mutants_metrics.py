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
