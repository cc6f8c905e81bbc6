"""Reading the guest's console (ttyS0) after a failure: where did the boot stop?"""

from __future__ import annotations

import re

# Milestones in boot order: (stage reached, pattern seen on the console).
MILESTONES: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("kernel", re.compile(r"Linux version |Command line: |\[\s*\d+\.\d+\]")),
    ("initramfs", re.compile(r"Run /init as init process|Loading, please wait")),
    ("root", re.compile(r"EXT4-fs \(vda\): mounted|Begin: Running /scripts/init-bottom")),
    ("init", re.compile(r"Run /\.isobench/init|isobench init")),
)
PROBLEMS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"Kernel panic - not syncing: (.*)"), "kernel panic: {0}"),
    (re.compile(r"Gave up waiting for root (?:file system )?device"),
     "the root disk /dev/vda never appeared (virtio_blk missing from the initrd?)"),
    (re.compile(r"ALERT!\s+(\S+) does not exist"), "root device {0} does not exist"),
    (re.compile(r"Out of memory: Killed process \d+ \((.*?)\)"),
     "out of memory: the kernel killed {0} (give the guest more --memory)"),
    (re.compile(r"Initramfs unpacking failed: (.*)"), "initramfs unpacking failed: {0}"),
    (re.compile(r"(?:Failed to execute|Requested init) (\S+)"), "init {0} could not run"),
    (re.compile(r"isobench-initrd: (.*)"), "the isobench initrd: {0}"),
)
STAGE_TEXT = {
    "none": "before the kernel printed anything (QEMU firmware or kernel decompression)",
    "kernel": "in the kernel, before the initramfs ran",
    "initramfs": "in the initramfs, before root=/dev/vda was mounted",
    "root": "after mounting root=/dev/vda, before the isobench init started",
    "init": "in the isobench init, before it reached the host",
}


def stage_reached(console: str) -> str:
    reached = "none"
    for stage, pattern in MILESTONES:
        if pattern.search(console):
            reached = stage
    return reached


def problem(console: str) -> str | None:
    """The first known fatal message, in words."""
    for pattern, text in PROBLEMS:
        match = pattern.search(console)
        if match:
            return text.format(*(g.strip() for g in match.groups()))
    return None


def where_stopped(console: str, shim_ready: bool) -> str:
    """One phrase: 'in the initramfs, before ... (kernel panic: ...)'."""
    if shim_ready:
        return "after the isobench init started: the command was still running"
    text = STAGE_TEXT[stage_reached(console)]
    found = problem(console)
    return f"{text} ({found})" if found else text


def tail(console: str, lines: int = 20) -> list[str]:
    return [line.rstrip("\r") for line in console.splitlines()[-lines:]]
