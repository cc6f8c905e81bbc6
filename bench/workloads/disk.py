"""disk: fio with direct I/O on a file in the scratch area each target provides."""

from __future__ import annotations

from bench.model import Variant, Workload
from bench.parsers import parse_fio_random, parse_fio_sequential
from results.metrics import named

FILE = "{scratch}/isobench-fio.dat"
SIZE = "128M"       # laid out before the timed part; small so a quick run stays quick
IODEPTH = "16"

RANDOM_METRICS = named("iops", "clat_mean_us", "clat_p99_us")
SEQ_METRICS = named("mb_s")


def _fio(name: str, rw: str, bs: str) -> tuple[str, ...]:
    # libaio: the Debian fio package depends on libaio1, so it is there on every target.
    return ("fio", f"--name={name}", f"--filename={FILE}", f"--size={SIZE}", f"--rw={rw}",
            f"--bs={bs}", "--direct=1", "--ioengine=libaio", f"--iodepth={IODEPTH}",
            "--runtime={seconds}", "--time_based", "--group_reporting",
            "--output-format=json")


WORKLOAD = Workload(
    name="disk",
    image="bench",
    variants=(
        Variant("disk.randread", _fio("randread", "randread", "4k"), parse_fio_random,
                RANDOM_METRICS, needs_scratch=True),
        Variant("disk.randwrite", _fio("randwrite", "randwrite", "4k"), parse_fio_random,
                RANDOM_METRICS, needs_scratch=True),
        Variant("disk.seqread", _fio("seqread", "read", "1M"), parse_fio_sequential,
                SEQ_METRICS, needs_scratch=True),
        Variant("disk.seqwrite", _fio("seqwrite", "write", "1M"), parse_fio_sequential,
                SEQ_METRICS, needs_scratch=True),
    ),
    description=f"fio, direct I/O (O_DIRECT, libaio, queue depth {IODEPTH}) on a {SIZE} "
                "file in the scratch area for the profile's duration: 4 KiB random read and "
                "write (IOPS, completion latency mean and p99) and 1 MiB sequential read and "
                "write (MB/s). The scratch area is a host directory natively, a volume on the "
                "host disk for containers and a scratch virtio disk in a VM; it must accept "
                "O_DIRECT (overlayfs upper dirs and old tmpfs do not).",
)
