"""The VM memory measurements: the guest-RAM mapping found in QEMU's smaps (not its whole
RSS), and the touch-then-free phases read from a sampled series."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.workloads import reclaim
from vm.host import guest_ram_rss

MIB = 1 << 20
GUEST = 512 * MIB


def smaps(tmp_path: Path, mappings: list[tuple[str, int, int]]) -> str:
    """A /proc/PID/smaps with (first line's tail, Size kB, Rss kB) per mapping."""
    text = []
    for i, (name, size_kb, rss_kb) in enumerate(mappings):
        text += [f"7f{i:010x}000-7f{i:010x}fff rw-p 00000000 00:00 0 {name}".rstrip(),
                 f"Size:           {size_kb} kB", "KernelPageSize:        4 kB",
                 f"Rss:            {rss_kb} kB", f"Pss:            {rss_kb} kB",
                 "VmFlags: rd wr mr mw me ac sd"]
    path = tmp_path / "smaps"
    path.write_text("\n".join(text) + "\n")
    return str(path)


def test_the_guest_ram_mapping_is_told_from_qemus_other_memory(tmp_path: Path) -> None:
    # QEMU's heap, TCG's 1 GiB translation buffer (mostly resident), the guest's RAM
    # (aligned up by 2 MiB), a library
    path = smaps(tmp_path, [("[heap]", 30_000, 28_000), ("", 1 << 20, 700_000),
                            ("", GUEST // 1024 + 2048, 120_000),
                            ("/usr/lib/x86_64-linux-gnu/libc.so.6", 1_800, 1_500)])
    assert guest_ram_rss(0, GUEST, path) == 120_000 * 1024
    # a guest of another size has no mapping here: None, not QEMU's RSS
    assert guest_ram_rss(0, 256 * MIB, path) is None
    assert guest_ram_rss(0, GUEST, str(tmp_path / "gone")) is None


def series(idle: int, touched: int, freed: int) -> tuple[list[tuple[float, int]],
                                                        dict[str, float]]:
    at = {"idle": 0.0, "touched": 5.0, "freed": 9.0, "done": 17.0}
    samples = [(t / 4, (idle if t / 4 < 4 else touched if t / 4 < 9 else
                        touched if t / 4 < 10 else freed) * MIB) for t in range(68)]
    return samples, at


@pytest.mark.parametrize(("freed", "returned"), [(290, 0.0), (106, 1.0), (198, 0.5)])
def test_the_phases_say_how_much_went_back(freed: int, returned: float) -> None:
    samples, at = series(106, 290, freed)
    out = reclaim.phases(samples, at)
    assert (out["guest_ram_idle_mib"], out["guest_ram_touched_mib"]) == (106, 290)
    assert out["guest_ram_freed_mib"] == freed
    assert out["returned_fraction"] == pytest.approx(returned)


def test_too_few_samples_is_an_error_not_a_figure() -> None:
    samples, at = series(106, 290, 106)
    with pytest.raises(RuntimeError, match="too few samples"):
        reclaim.phases([s for s in samples if s[0] < at["freed"]], at)


def test_the_guests_lines_are_timed_as_they_arrive() -> None:
    lines = reclaim.Lines()
    lines.write(b"idle\ntou")
    assert list(lines.at) == ["idle"]
    lines.write(b"ched\n")
    assert list(lines.at) == ["idle", "touched"] and lines.at["touched"] >= lines.at["idle"]
