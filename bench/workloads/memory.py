"""memory: sysbench memory, streaming throughput and random access over a large buffer."""

from __future__ import annotations

from bench.model import Variant, Workload
from bench.parsers import parse_sysbench_memory, parse_sysbench_memory_random
from results.metrics import named

# Random accesses land anywhere in one buffer of this size (sysbench's rnd mode picks indices
# inside the block): larger than the caches (L3 is 32 MiB on the reference host), so most
# accesses miss the caches and the TLB. A 64-byte block would stay in L1.
RANDOM_BLOCK = "64M"

SEQ = Variant(
    "memory.seq",
    ("sysbench", "memory", "--threads={threads}", "--time={seconds}",
     "--memory-block-size=1M", "--memory-total-size=1T", "--memory-scope=local",
     "--memory-oper=write", "--memory-access-mode=seq", "run"),
    parse_sysbench_memory,
    named("mib_per_s"),
)

RANDOM = Variant(
    "memory.random",
    ("sysbench", "memory", "--threads=1", "--time={seconds}",
     f"--memory-block-size={RANDOM_BLOCK}", "--memory-total-size=1T", "--memory-scope=global",
     "--memory-oper=read", "--memory-access-mode=rnd", "run"),
    parse_sysbench_memory_random,
    named("mib_per_s", "access_ns", "latency_avg_ms"),
)

WORKLOAD = Workload(
    name="memory",
    image="bench",
    variants=(SEQ, RANDOM),
    description="sysbench memory for the profile's duration. memory.seq: sequential 1 MiB "
                "writes, one buffer per thread on every CPU (bandwidth, largely "
                "cache-resident). memory.random: one thread reading 4-byte words at random in "
                f"a {RANDOM_BLOCK}iB buffer, latency-bound on cache and TLB misses, where a "
                "VM's nested page walks show; access_ns is the time per random access.",
)
