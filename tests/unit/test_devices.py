"""Device access (runtime.cgroups.devices, device_bpf; runtime.rootfs): the v1 devices cgroup
rules, the v2 eBPF device program run on a small interpreter, and --privileged's host devices
in the rootfs, against RecordingSyscalls and temp-dir trees.
"""

from __future__ import annotations

import os
import stat
import struct
from pathlib import Path

import pytest

from runtime import rootfs
from runtime.cgroups import CgroupError, V1Cgroup, device_bpf
from runtime.cgroups.devices import ALLOW_ALL, DEFAULT_DEVICE_RULES, permits
from runtime.syscalls import MS_RDONLY, RecordingSyscalls

# --- device rules (v1 devices cgroup; the model the v2 program follows) ---

def test_device_rules_in_v1_syntax() -> None:
    lines = [r.v1_line() for r in DEFAULT_DEVICE_RULES]
    assert lines[:2] == ["c *:* m", "b *:* m"]
    assert {"c 1:3 rwm", "c 1:5 rwm", "c 1:7 rwm", "c 1:8 rwm", "c 1:9 rwm", "c 5:0 rwm",
            "c 5:1 rwm", "c 5:2 rwm", "c 136:* rwm"} == set(lines[2:])
    assert [r.v1_line() for r in ALLOW_ALL] == ["a"]


@pytest.mark.parametrize("kind, major, minor, access, ok", [
    ("c", 1, 3, "rw", True),      # /dev/null
    ("c", 136, 7, "rw", True),    # /dev/pts/7
    ("b", 8, 0, "m", True),       # mknod of /dev/sda is allowed...
    ("b", 8, 0, "r", False),      # ...its use is not
    ("c", 1, 1, "r", False),      # /dev/mem
    ("c", 10, 200, "rw", False),  # /dev/net/tun
])
def test_default_device_rules(kind: str, major: int, minor: int, access: str,
                              ok: bool) -> None:
    assert permits(DEFAULT_DEVICE_RULES, kind, major, minor, access) is ok
    assert permits(ALLOW_ALL, kind, major, minor, access)


def _devices_tree(tmp_path: Path) -> V1Cgroup:
    level = tmp_path / "devices" / "isobench" / "c1"
    level.mkdir(parents=True)
    for name in ("devices.allow", "devices.deny", "cgroup.procs"):
        (level / name).touch()
    return V1Cgroup("isobench/c1", {"devices": str(tmp_path / "devices")})


def test_v1_set_devices_denies_all_then_allows_each_rule(tmp_path: Path) -> None:
    cg = _devices_tree(tmp_path)
    assert cg.set_devices(DEFAULT_DEVICE_RULES) is True
    level = tmp_path / "devices" / "isobench" / "c1"
    assert (level / "devices.deny").read_text() == "a"
    assert (level / "devices.allow").read_text() == "".join(
        r.v1_line() for r in DEFAULT_DEVICE_RULES)


def test_v1_privileged_allows_everything(tmp_path: Path) -> None:
    cg = _devices_tree(tmp_path)
    cg.set_devices(ALLOW_ALL)
    level = tmp_path / "devices" / "isobench" / "c1"
    assert (level / "devices.allow").read_text() == "a"
    assert (level / "devices.deny").read_text() == ""


def test_v1_without_a_devices_hierarchy_is_an_error(tmp_path: Path) -> None:
    cg = V1Cgroup("isobench/c1", {"memory": str(tmp_path / "memory")})
    with pytest.raises(CgroupError, match="devices controller not mounted"):
        cg.set_devices(DEFAULT_DEVICE_RULES)


# --- --privileged in the rootfs: host devices, writable /sys, nothing masked ---

def _plan(tmp_path: Path, **kw: object) -> rootfs.RootfsPlan:
    target = tmp_path / "merged"
    target.mkdir()
    return rootfs.RootfsPlan(target=str(target), lower=["/l"], upper="/u", work="/w", **kw)


def _sysfs_flags(sc: RecordingSyscalls) -> int:
    return next(c[4] for c in sc.calls if c[0] == "mount" and c[3] == "sysfs")


def test_privileged_rootfs_copies_host_devices_and_mounts_sys_writable(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    host = [("sda", stat.S_IFBLK | 0o660, os.makedev(8, 0)),
            ("null", stat.S_IFCHR | 0o666, os.makedev(1, 3)),  # already made: kept
            ("net/tun", stat.S_IFCHR | 0o666, os.makedev(10, 200))]
    monkeypatch.setattr(rootfs, "host_devices", lambda dev="/dev": host)
    plan = _plan(tmp_path, privileged=True, masked=(), readonly_paths=())
    sc = RecordingSyscalls()
    rootfs.build_rootfs(plan, sc)
    dev = os.path.join(plan.target, "dev")
    made = [c[1] for c in sc.calls if c[0] == "mknod"]
    assert os.path.join(dev, "sda") in made and os.path.join(dev, "net/tun") in made
    assert made.count(os.path.join(dev, "null")) == 1
    assert not _sysfs_flags(sc) & MS_RDONLY
    assert next(m for m in plan.mounts() if m["Type"] == "sysfs")["Options"] == "rw"
    assert not [c for c in sc.calls if c[0] == "mount" and c[1] and c[1].endswith("dev/null")]


def test_default_rootfs_has_read_only_sys_and_no_host_device(tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch
                                                             ) -> None:
    monkeypatch.setattr(rootfs, "host_devices", lambda dev="/dev": pytest.fail("not privileged"))
    plan = _plan(tmp_path)
    sc = RecordingSyscalls()
    rootfs.build_rootfs(plan, sc)
    assert _sysfs_flags(sc) & MS_RDONLY
    assert len([c for c in sc.calls if c[0] == "mknod"]) == len(rootfs.DEVICES)


def test_host_devices_lists_nodes_and_skips_pts_shm_and_console(tmp_path: Path) -> None:
    for d in ("pts", "shm", "sub"):
        (tmp_path / d).mkdir()
    for name in ("null", "console", "pts/0", "sub/x"):
        os.mknod(tmp_path / name, stat.S_IFCHR | 0o600, os.makedev(1, 3))
    (tmp_path / "file").touch()
    os.symlink("null", tmp_path / "link")
    found = sorted(rel for rel, _mode, _rdev in rootfs.host_devices(str(tmp_path)))
    assert found == ["null", "sub/x"]


# --- cgroup v2: the device program, run on a small eBPF interpreter ---

def run_device_program(code: bytes, kind: str, major: int, minor: int, access: str) -> int:
    """Interpret the few opcodes device_bpf emits, on bpf_cgroup_dev_ctx."""
    acc = sum({"m": 1, "r": 2, "w": 4}[a] for a in access)
    ctx = struct.pack("<III", (acc << 16) | (1 if kind == "b" else 2), major, minor)
    regs = [0] * 11
    insns = [struct.unpack("<BBhi", code[i:i + 8]) for i in range(0, len(code), 8)]
    pc, steps = 0, 0
    while True:
        steps += 1
        assert steps < 1000 and 0 <= pc < len(insns)
        op, regbyte, off, imm = insns[pc]
        dst, src = regbyte & 0xF, regbyte >> 4
        pc += 1
        if op == 0x61:
            assert src == 1, "loads only from the context"
            regs[dst] = struct.unpack_from("<I", ctx, off)[0]
        elif op == 0x54:
            regs[dst] = (regs[dst] & imm) & 0xFFFFFFFF
        elif op == 0x74:
            regs[dst] = (regs[dst] & 0xFFFFFFFF) >> imm
        elif op == 0xBC:
            regs[dst] = regs[src] & 0xFFFFFFFF
        elif op == 0xB7:
            regs[dst] = imm
        elif op == 0x55:
            pc += off if regs[dst] != imm else 0
        elif op == 0x5D:
            pc += off if regs[dst] != regs[src] else 0
        elif op == 0x95:
            return regs[0]
        else:
            raise AssertionError(f"unexpected opcode {op:#x}")


CASES = [(kind, major, minor, access)
         for kind in "cb" for major, minor in ((1, 3), (1, 1), (5, 2), (136, 0), (136, 99),
                                               (8, 0), (10, 200), (7, 0))
         for access in ("m", "r", "w", "rw", "rwm")]


@pytest.mark.parametrize("rules", [DEFAULT_DEVICE_RULES, ALLOW_ALL, ()])
def test_device_program_decides_as_the_rules_do(rules: tuple) -> None:
    code = device_bpf.program(rules)
    assert len(code) % 8 == 0
    for case in CASES:
        assert run_device_program(code, *case) == int(permits(rules, *case)), case


def test_device_program_attach_loads_then_attaches_to_the_cgroup(tmp_path: Path) -> None:
    sc = RecordingSyscalls()
    device_bpf.attach(str(tmp_path), DEFAULT_DEVICE_RULES, sc)
    (load_cmd, load), (attach_cmd, attach) = [c[1:] for c in sc.calls]
    assert (load_cmd, attach_cmd) == (device_bpf.BPF_PROG_LOAD, device_bpf.BPF_PROG_ATTACH)
    prog_type, insn_cnt = struct.unpack_from("<II", load)
    assert prog_type == 15 and insn_cnt == len(device_bpf.program(DEFAULT_DEVICE_RULES)) // 8
    assert struct.unpack_from("<I", load, 68)[0] == device_bpf.BPF_CGROUP_DEVICE
    _cg_fd, _prog_fd, attach_type, flags = struct.unpack_from("<IIII", attach)
    assert (attach_type, flags) == (device_bpf.BPF_CGROUP_DEVICE, device_bpf.BPF_F_ALLOW_MULTI)
