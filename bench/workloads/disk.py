"""disk: fio with direct I/O on a file in the scratch area each target provides."""

from __future__ import annotations

from bench.model import FixedWork, Parser, Variant, Workload
from bench.parsers import parse_fio_random, parse_fio_sequential
from results.metrics import Metric, named

FILE = "{scratch}/isobench-fio.dat"
SIZE = "128M"       # laid out before the timed part; small so a quick run stays quick
IODEPTH = "16"

RANDOM_METRICS = named("iops", "clat_mean_us", "clat_p99_us")
SEQ_METRICS = named("mb_s")


def _fio(name: str, rw: str, bs: str, *until: str) -> tuple[str, ...]:
    # libaio: the Debian fio package depends on libaio1, so it is there on every target.
    return ("fio", f"--name={name}", f"--filename={FILE}", f"--size={SIZE}", f"--rw={rw}",
            f"--bs={bs}", "--direct=1", "--ioengine=libaio", f"--iodepth={IODEPTH}",
            *(until or ("--runtime={seconds}", "--time_based")), "--group_reporting",
            "--output-format=json")


def _variant(name: str, rw: str, bs: str, parse: Parser, metrics: tuple[Metric, ...],
             mib: int, scratch: str = "volume") -> Variant:
    # Fixed work: --io_size MiB transferred (the file wraps around), no --time_based.
    fixed = FixedWork(_fio(name, rw, bs, "--io_size={work}M"), mib, "MiB")
    prefix = "disk.layer." if scratch == "layer" else "disk."
    return Variant(f"{prefix}{name}", _fio(name, rw, bs), parse, metrics, needs_scratch=True,
                   fixed=fixed, scratch=scratch)


WORKLOAD = Workload(
    name="disk",
    image="bench",
    variants=(
        # Sizes for one to three seconds natively on the reference host's disk, where 4 KiB
        # direct random writes run at a few MiB/s and random reads at tens.
        _variant("randread", "randread", "4k", parse_fio_random, RANDOM_METRICS, 32),
        _variant("randwrite", "randwrite", "4k", parse_fio_random, RANDOM_METRICS, 8),
        _variant("seqread", "read", "1M", parse_fio_sequential, SEQ_METRICS, 512),
        _variant("seqwrite", "write", "1M", parse_fio_sequential, SEQ_METRICS, 512),
        # The same 4 KiB random I/O inside the container's own root (its overlay upper):
        # the cost of overlayfs beside the volume's bind. Native has no layer and writes its
        # host directory; the VM has none either and is listed as skipped with the reason.
        _variant("randread", "randread", "4k", parse_fio_random, RANDOM_METRICS, 32, "layer"),
        _variant("randwrite", "randwrite", "4k", parse_fio_random, RANDOM_METRICS, 8, "layer"),
    ),
    description=f"fio, direct I/O (O_DIRECT, libaio, queue depth {IODEPTH}) on a {SIZE} "
                "file in the scratch area for the profile's duration: 4 KiB random read and "
                "write (IOPS, completion latency mean and p99) and 1 MiB sequential read and "
                "write (MB/s). The scratch area is a host directory natively, a volume on the "
                "host disk for containers and a scratch virtio disk in a VM; it must accept "
                "O_DIRECT. disk.layer.* run the random pair inside the container's own root "
                "instead (/var/tmp in its overlay's upper directory, no volume), under runc "
                "in its bundle's overlay; natively in the host directory, the equivalent; "
                "not in the VM, which has no such layer.",
)
