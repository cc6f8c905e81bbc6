"""cgroup v2 device control: a BPF_PROG_TYPE_CGROUP_DEVICE program built from device rules.

v2 has no devices.allow; runc compiles its allow-list into a small eBPF program and attaches
it to the container's cgroup, and so does this module (runc's devicefilter, in Python). The
kernel runs it on every open/mknod of a device node by a process of the cgroup: it returns 1
to allow, 0 to deny (EPERM). Once attached the program lives as long as the cgroup: removing
the cgroup frees it, so nothing can leak.
"""

from __future__ import annotations

import ctypes
import os
import struct

from runtime import syscalls as sc_mod
from runtime.cgroups.devices import DeviceRule

# <linux/bpf.h>
BPF_PROG_LOAD = 5
BPF_PROG_ATTACH = 8
BPF_PROG_TYPE_CGROUP_DEVICE = 15
BPF_CGROUP_DEVICE = 6
BPF_F_ALLOW_MULTI = 2
BPF_DEVCG_DEV_BLOCK = 1
BPF_DEVCG_DEV_CHAR = 2
_ACCESS_BITS = {"m": 1, "r": 2, "w": 4}  # BPF_DEVCG_ACC_MKNOD, _READ, _WRITE
_ATTR_SIZE = 128  # bytes of union bpf_attr we pass (the rest the kernel sees as zero)

# Opcodes (<linux/bpf_common.h>): the few this program needs.
_LDX_W = 0x61       # dst = *(u32 *)(src + off)
_AND32_K = 0x54     # dst &= imm (32-bit)
_RSH32_K = 0x74     # dst >>= imm (32-bit)
_MOV32_X = 0xBC     # dst = src (32-bit)
_MOV64_K = 0xB7     # dst = imm
_JNE_K = 0x55       # if dst != imm goto +off
_JNE_X = 0x5D       # if dst != src goto +off
_EXIT = 0x95


def _insn(code: int, dst: int = 0, src: int = 0, off: int = 0, imm: int = 0) -> bytes:
    return struct.pack("<BBhi", code, (src << 4) | dst, off, imm)


def _access_mask(access: str) -> int:
    return sum(bit for ch, bit in _ACCESS_BITS.items() if ch in access)


def _rule_block(rule: DeviceRule) -> list[tuple[int, int, int, int | None, int]]:
    """One rule's checks as (code, dst, src, jump-to-next?, imm); None marks no jump."""
    block: list[tuple[int, int, int, int | None, int]] = []
    if rule.kind != "a":
        kind = BPF_DEVCG_DEV_BLOCK if rule.kind == "b" else BPF_DEVCG_DEV_CHAR
        block.append((_JNE_K, 2, 0, 1, kind))
    mask = _access_mask(rule.access)
    if mask != 7:  # the requested access must be a subset of the rule's
        block += [(_MOV32_X, 1, 3, None, 0), (_AND32_K, 1, 0, None, mask),
                  (_JNE_X, 1, 3, 1, 0)]
    if rule.major is not None:
        block.append((_JNE_K, 4, 0, 1, rule.major))
    if rule.minor is not None:
        block.append((_JNE_K, 5, 0, 1, rule.minor))
    block += [(_MOV64_K, 0, 0, None, 1), (_EXIT, 0, 0, None, 0)]
    return block


def program(rules: tuple[DeviceRule, ...]) -> bytes:
    """The eBPF instructions: load the context, then one block per rule, then deny."""
    out = [
        _insn(_LDX_W, 2, 1, 0),            # r2 = ctx->access_type
        _insn(_AND32_K, 2, imm=0xFFFF),    # r2 = device type (block/char)
        _insn(_LDX_W, 3, 1, 0),            # r3 = ctx->access_type
        _insn(_RSH32_K, 3, imm=16),        # r3 = requested access (mknod/read/write)
        _insn(_LDX_W, 4, 1, 4),            # r4 = ctx->major
        _insn(_LDX_W, 5, 1, 8),            # r5 = ctx->minor
    ]
    for rule in rules:
        block = _rule_block(rule)
        for i, (code, dst, src, jumps, imm) in enumerate(block):
            # A failed check skips the rest of this block: to the next rule.
            off = len(block) - i - 1 if jumps else 0
            out.append(_insn(code, dst, src, off, imm))
    out += [_insn(_MOV64_K, 0, imm=0), _insn(_EXIT)]
    return b"".join(out)


def attach(cgroup_dir: str, rules: tuple[DeviceRule, ...],
           sc: sc_mod.Syscalls = sc_mod.REAL) -> None:
    """Load the program and attach it to `cgroup_dir` (OSError when the kernel refuses)."""
    code = program(rules)
    insns = ctypes.create_string_buffer(code, len(code))
    license_ = ctypes.create_string_buffer(b"MIT")  # no GPL-only helper is called
    load = bytearray(_ATTR_SIZE)
    struct.pack_into("<IIQQ", load, 0, BPF_PROG_TYPE_CGROUP_DEVICE, len(code) // 8,
                     ctypes.addressof(insns), ctypes.addressof(license_))
    struct.pack_into("<I", load, 68, BPF_CGROUP_DEVICE)  # expected_attach_type
    prog_fd = sc.bpf(BPF_PROG_LOAD, bytes(load))
    try:
        cg_fd = os.open(cgroup_dir, os.O_RDONLY | os.O_DIRECTORY)
        try:
            attr = bytearray(_ATTR_SIZE)
            struct.pack_into("<IIII", attr, 0, cg_fd, prog_fd, BPF_CGROUP_DEVICE,
                             BPF_F_ALLOW_MULTI)
            sc.bpf(BPF_PROG_ATTACH, bytes(attr))
        finally:
            os.close(cg_fd)
    finally:
        os.close(prog_fd)  # the attachment holds its own reference
