"""The sampler against a temp-dir cgroup: a read that fails while the cgroup exists is counted
and named (never dropped without a word); a cgroup that does not exist yet is not sampled;
a v2 host without memory.peak (kernels before 5.19) gets the sampled maximum, labelled."""

from __future__ import annotations

import time
from pathlib import Path

from bench.collectors import Accounting, Sampler, sample_reader
from runtime.cgroups import CgroupStats, V2Cgroup

NAME = "isobench/c0ffee"


def leaf(root: Path, files: dict[str, str]) -> Path:
    d = root / NAME
    d.mkdir(parents=True)
    for name, text in files.items():
        (d / name).write_text(text)
    return d


def run_sampler(sampler: Sampler, seconds: float = 0.25) -> Accounting:
    with sampler:
        time.sleep(seconds)
        return sampler.finish(CgroupStats())


GOOD = {"cpu.stat": "usage_usec 7\nuser_usec 5\n", "memory.current": "4096\n",
        "pids.current": "3\n"}


def test_samples_of_a_complete_leaf(tmp_path: Path) -> None:
    leaf(tmp_path, GOOD)
    cg = V2Cgroup(NAME, str(tmp_path))
    acc = run_sampler(Sampler(lambda: None, 50, sample_reader(cg)))
    assert acc.samples and all(s[1:] == [7000, 4096, 3] for s in acc.samples)
    assert acc.samples_dropped == 0 and acc.sample_error is None


def test_a_missing_file_in_an_existing_cgroup_is_counted_and_named(tmp_path: Path) -> None:
    d = leaf(tmp_path, {k: v for k, v in GOOD.items() if k != "pids.current"})
    cg = V2Cgroup(NAME, str(tmp_path))
    acc = run_sampler(Sampler(lambda: None, 50, sample_reader(cg)))
    assert acc.samples == []
    assert acc.samples_dropped >= 3
    assert acc.sample_error == f"{d}/pids.current: No such file or directory"
    out = acc.to_dict()
    assert out["samples_dropped"] == acc.samples_dropped
    assert out["sample_error"] == acc.sample_error


def test_no_cgroup_yet_is_not_a_dropped_sample(tmp_path: Path) -> None:
    cg = V2Cgroup(NAME, str(tmp_path))
    acc = run_sampler(Sampler(lambda: None, 50, sample_reader(cg)))
    assert acc.samples == [] and acc.samples_dropped == 0


def test_without_memory_peak_the_sampled_maximum_is_labelled() -> None:
    acc = Accounting(end={"memory_peak": None, "memory_current": 10},
                     samples=[[0.1, 1, 300, 1], [0.2, 2, 900, 1], [0.3, 3, None, 1]])
    out = acc.to_dict()
    assert out["end"]["memory_peak"] == 900
    assert out["memory_peak_source"] == "sampled"
    assert acc.end == {"memory_peak": None, "memory_current": 10}  # the reading as read


def test_the_kernels_peak_wins_and_says_so() -> None:
    acc = Accounting(end={"memory_peak": 5000}, samples=[[0.1, 1, 9000, 1]])
    out = acc.to_dict()
    assert (out["end"]["memory_peak"], out["memory_peak_source"]) == (5000, "kernel")


def test_no_peak_anywhere_is_none() -> None:
    out = Accounting(end={"memory_peak": None}, samples=[]).to_dict()
    assert (out["end"]["memory_peak"], out["memory_peak_source"]) == (None, None)
