"""Network isolation as Docker does it, in isobench's own iptables chains.

    filter INPUT   -> ISOBENCH-INPUT   (the first rule; a jump, nothing else in INPUT)
    filter FORWARD -> ISOBENCH-FORWARD (the first rule)

For each network bridge B with gateway G (every rule carries the comment `isobench:B`):

    ISOBENCH-FORWARD  -i B ! -o B -j DROP    nothing leaves B for another interface: not
                      -o B ! -i B -j DROP    another network, not a foreign bridge (docker0,
                                             virbr0), not the uplink; nothing comes in either
    ISOBENCH-INPUT    -i B ! -d G -j DROP    the host answers a member only on B's own gateway
                                             (not on the addresses of its other interfaces)
    --internal:       -i B -m conntrack --ctstate ESTABLISHED,RELATED -j RETURN
                      -i B -j DROP           members start nothing towards the host at all
                                             (and get no default route: network.py)

So within a network (bridged, never forwarded), to the gateway, and through published ports
(the user-space proxy in ports.py connects from the host: OUTPUT, and its replies come back
to G) keeps working, whether or not the host forwards. The chains only DROP or RETURN;
nothing else in the host's firewall is touched, and when the last bridge's rules go, the
jumps and chains go with them.

Rules live as long as the bridge (network.py makes a bridge with a network's first member and
removes it with the last; `network rm` and `gc` sweep what a killed process left): a rule for
a bridge that does not exist filters nothing, and the default network's record lives as long
as its state root. They are installed just before the bridge is created (a rule names its
interface, which need not exist yet), so no packet crosses it unfiltered, and the bridge is
made, addressed, brought up and given its first member by one `ip -batch`.

iptables (iptables-nft 1.8.9 here, no `nft` binary) runs as a subprocess, as `ip` does in
network.py: one `iptables-save -t filter` to read and one `iptables-restore --noflush` to
write per change, under a host-wide flock (iptables' own lock covers one call; two isobench
processes must not both declare a chain, which in --noflush mode flushes it).
"""

from __future__ import annotations

import fcntl
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from runtime.errors import IsobenchError

FORWARD_CHAIN = "ISOBENCH-FORWARD"
INPUT_CHAIN = "ISOBENCH-INPUT"
CHAINS = {FORWARD_CHAIN: "FORWARD", INPUT_CHAIN: "INPUT"}   # ours -> the built-in jumping in
COMMENT_PREFIX = "isobench:"
LOCK_PATH = "/run/isobench-firewall.lock"   # host-wide: iptables is host-wide too
_COMMENT = re.compile(r'--comment "?isobench:([^"\s]+)"?')


class FirewallError(IsobenchError):
    """iptables refused a change; the message is its first line."""


@dataclass(frozen=True)
class BridgeRules:
    bridge: str
    gateway: str
    internal: bool = False

    def rules(self) -> list[str]:
        """`-A` lines for iptables-restore, each tagged with the bridge."""
        tag = f'-m comment --comment "{COMMENT_PREFIX}{self.bridge}"'
        b = self.bridge
        lines = [f"-A {FORWARD_CHAIN} -i {b} ! -o {b} {tag} -j DROP",
                 f"-A {FORWARD_CHAIN} -o {b} ! -i {b} {tag} -j DROP"]
        if self.internal:
            lines += [f"-A {INPUT_CHAIN} -i {b} -m conntrack --ctstate ESTABLISHED,RELATED "
                      f"{tag} -j RETURN",
                      f"-A {INPUT_CHAIN} -i {b} {tag} -j DROP"]
        else:
            lines.append(f"-A {INPUT_CHAIN} -i {b} ! -d {self.gateway}/32 {tag} -j DROP")
        return lines


@contextmanager
def _host_lock() -> Iterator[None]:
    fd = os.open(LOCK_PATH, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def _run(argv: list[str], stdin: str | None = None) -> str:
    import subprocess  # start-up time: the bridge's rules only

    try:
        proc = subprocess.run(argv, input=stdin, capture_output=True, text=True)
    except FileNotFoundError:
        raise FirewallError(f"network isolation needs {argv[0]} (Debian: iptables)") from None
    if proc.returncode != 0:
        detail = (proc.stderr.strip().splitlines() or ["failed"])[0]
        raise FirewallError(f"network isolation: {argv[0]}: {detail}")
    return proc.stdout


@dataclass
class FilterTable:
    """What of ours is in the filter table now (read from iptables-save)."""

    chains: set[str]
    jumps: set[str]                  # built-in chains that jump to ours
    rules: dict[str, list[str]]      # bridge -> its `-A` lines, as iptables-save prints them

    @classmethod
    def read(cls) -> FilterTable:
        return cls.parse(_run(["iptables-save", "-t", "filter"]))

    @classmethod
    def parse(cls, text: str) -> FilterTable:
        chains: set[str] = set()
        jumps: set[str] = set()
        rules: dict[str, list[str]] = {}
        for line in text.splitlines():
            if line.startswith(":") and line[1:].split()[0] in CHAINS:
                chains.add(line[1:].split()[0])
            parts = line.split()
            if len(parts) == 4 and parts[0] == "-A" and parts[2] == "-j" \
                    and CHAINS.get(parts[3]) == parts[1]:
                jumps.add(parts[1])
            if len(parts) >= 2 and parts[0] == "-A" and parts[1] in CHAINS:
                m = _COMMENT.search(line)
                if m:
                    rules.setdefault(m.group(1), []).append(line)
        return cls(chains, jumps, rules)


def _script(lines: list[str]) -> str:
    return "*filter\n" + "".join(f"{line}\n" for line in lines) + "COMMIT\n"


def _apply(lines: list[str]) -> None:
    if lines:
        _run(["iptables-restore", "--noflush", "-w", "5"], _script(lines))


def _ensure_chains(table: FilterTable) -> list[str]:
    lines = [f":{chain} - [0:0]" for chain in CHAINS if chain not in table.chains]
    lines += [f"-I {parent} 1 -j {chain}" for chain, parent in CHAINS.items()
              if parent not in table.jumps]
    return lines


def _drop_chains_if_empty(table: FilterTable, removing: set[str]) -> list[str]:
    """When no bridge's rules are left: the jumps, then the chains (iptables-restore runs the
    lines of one COMMIT in order)."""
    if any(bridge not in removing for bridge in table.rules):
        return []
    lines = [f"-D {parent} -j {chain}" for chain, parent in CHAINS.items()
             if parent in table.jumps]
    for chain in CHAINS:
        if chain in table.chains:
            lines += [f"-F {chain}", f"-X {chain}"]
    return lines


def _delete(table: FilterTable, bridges: set[str]) -> list[str]:
    return ["-D" + line[2:] for bridge in sorted(bridges) for line in table.rules.get(bridge, [])]


@contextmanager
def isolated(spec: BridgeRules) -> Iterator[None]:
    """Install a bridge's rules (replacing any it had), then make the bridge inside: the
    host-wide lock is held throughout, so `gc`'s sweep cannot take them for a bridge that no
    longer exists while it does not exist yet."""
    with _host_lock():
        table = FilterTable.read()
        _apply(_ensure_chains(table) + _delete(table, {spec.bridge}) + spec.rules())
        yield


def release(bridges: list[str]) -> None:
    """Remove these bridges' rules; the chains go with the last."""
    with _host_lock():
        table = FilterTable.read()
        gone = {b for b in bridges if b in table.rules}
        if not gone and table.rules:
            return
        _apply(_delete(table, gone) + _drop_chains_if_empty(table, gone))


def sweep(dry_run: bool = False) -> int:
    """For `gc`: remove the rules of bridges that no longer exist on the host (what a killed
    run left), whichever state root made them. Returns how many rules went."""
    try:
        table = FilterTable.read()
    except FirewallError:
        return 0  # no iptables here: nothing of ours can be in it
    stale = {b for b in table.rules if not os.path.exists(f"/sys/class/net/{b}")}
    orphaned_chains = not table.rules and (table.chains or table.jumps)
    if dry_run or not (stale or orphaned_chains):
        return len(_delete(table, stale))
    with _host_lock():
        table = FilterTable.read()  # again under the lock: an attach may have come between
        stale = {b for b in table.rules if not os.path.exists(f"/sys/class/net/{b}")}
        deletions = _delete(table, stale)
        _apply(deletions + _drop_chains_if_empty(table, stale))
    return len(deletions)


def bridges_with_rules() -> set[str]:
    """The bridges that have isobench rules now (doctor, tests)."""
    return set(FilterTable.read().rules)
