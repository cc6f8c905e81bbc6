"""net's placements: the VM is measured both on isobench's bridge (a tap) and behind slirp,
each recorded under its own variant, and the setup line says which path the traffic took."""

from __future__ import annotations

from types import SimpleNamespace

from bench.profiles import PROFILES
from bench.workloads import net


def units(targets: tuple[str, ...]) -> list[tuple[str, str, str, tuple[str, ...]]]:
    session = SimpleNamespace(profile=PROFILES["tiny"], targets=dict.fromkeys(targets),
                              done=set())
    return [(u.variant, u.target, u.label, u.records)
            for u in net.WORKLOAD.units(session)]  # type: ignore[arg-type]


def test_the_vm_gets_a_tap_on_the_bridge_and_slirp_beside_it() -> None:
    got = units(("native", "container", "vm"))
    assert ("net.bridge", "vm", "(vm-tap)", ("net.bridge",)) in got
    assert ("net.usernet", "vm", "(vm-usernet)", ("net.usernet",)) in got
    # native's one run is recorded under every variant compared
    assert ("net.bridge", "native", "(native)", ("net.bridge", "net.hostnet", "net.usernet")) \
        in got
    assert len(got) == 5


def test_each_vm_placement_is_its_own_kind() -> None:
    rt = SimpleNamespace()
    session = SimpleNamespace(rt=rt, targets={})
    tap = net._placement(session, "img", "vm", "vm-tap")  # type: ignore[arg-type]
    slirp = net._placement(session, "img", "vm", "vm-usernet")  # type: ignore[arg-type]
    assert (type(tap), tap.kind) == (net.VmTapPlacement, "vm-tap")
    assert (type(slirp), slirp.kind) == (net.VmPlacement, "vm-usernet")


class Refused:
    """A placement whose servers never start."""

    extra: dict[str, str] = {}
    ports: dict[str, None] = {}
    addresses: dict[str, str] = {}

    def start(self) -> None:
        raise RuntimeError("no servers")

    def stop(self) -> None:
        pass


def test_the_setup_line_names_the_path_for_placements_that_do_not(monkeypatch) -> None:  # noqa: ANN001
    monkeypatch.setattr(net, "_placement", lambda *_args: Refused())
    session = SimpleNamespace(profile=PROFILES["tiny"], progress=lambda _line: None)
    rec = net._net_run(session, "img", "container", "container-bridge", 0)  # type: ignore[arg-type]
    assert not rec.ok and rec.error == "no servers"
    assert rec.extra["setup"]["network"] == net.NETWORK_PATHS["container-bridge"]
    assert "veth" in rec.extra["setup"]["network"]
