"""evidence: the lecture's claims checked directly. The kernel inside each target against
the host's (its boot_id, which a kernel draws at boot and every process of it shares, and its
release); namespaces seen from inside and outside a container and what chroot
alone leaves visible; a Dockerfile traced to an image (layers, digests, cache hits, cold and
cached build times) and to a container (pid, namespaces, cgroup); data in a volume outliving
its container; runc and isobench running the same image, each isolated (claims 11 and 12
are in evidence_apps)."""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.model import RunRecord, Session, Variant, Workload
from bench.progress import Unit
from bench.targets import Job
from bench.workloads.common import BUSYBOX, ISOBENCH, cli_env, repeated
from bench.workloads.evidence_apps import APP_COLLECTORS, APP_VARIANTS
from results.metrics import named
from runtime.image.builder import Builder
from runtime.image.layers import tree_digest
from runtime.image.progress import Silent
from runtime.spec import ContainerSpec

Collector = Callable[[Session, str, RunRecord], None]
VARIANTS = (
    Variant("evidence.kernel", metrics=named("same_as_host")),
    Variant("evidence.namespaces", metrics=named("namespaces_differing")),
    Variant("evidence.build", metrics=named("cold_s", "cached_s", "cached_steps")),
    Variant("evidence.volume", metrics=named("survived", "container_layer_survived")),
    Variant("evidence.runc", metrics=named("namespaces_differing")),
    *APP_VARIANTS,
)
BOOT_ID = "/proc/sys/kernel/random/boot_id"
ISOLATION_NAMESPACES = ("pid", "net", "mnt", "uts")
# What a runtime shows of itself from inside: PID, namespaces, and the rootfs it was given
# (busybox's own bytes: the same image gives the same digest under either runtime).
ISOLATION_PROBE = ("echo $$; for n in " + " ".join(ISOLATION_NAMESPACES)
                   + "; do readlink /proc/self/ns/$n; done; sha256sum /bin/busybox")


class Evidence(Workload):
    def units(self, session: Session) -> list[Unit]:
        # the kernel on every target; runc's bundle beside isobench's container; the rest
        # is about the container
        others = [v for v in COLLECTORS if v not in ("evidence.kernel", "evidence.runc")]
        return (repeated(session, "evidence", ["evidence.kernel"])
                + repeated(session, "evidence", ["evidence.runc"], ["container", "runc"])
                + repeated(session, "evidence", others, ["container"]))

    def run_unit(self, session: Session, unit: Unit) -> None:
        session.record(_collected(session, unit.variant, unit.target, unit.rep,
                                  COLLECTORS[unit.variant]))


def _collected(session: Session, variant: str, target: str, rep: int,
               collect: Collector) -> RunRecord:
    rec = RunRecord("evidence", variant, target, rep, ok=False, started_at=time.time())
    try:
        collect(session, target, rec)
        rec.ok = True
    except Exception as e:  # noqa: BLE001 - evidence missing is reported, not fatal
        rec.error = f"{type(e).__name__}: {e}"
    return rec


def _kernel(session: Session, target: str, rec: RunRecord) -> None:
    """The release alone cannot tell kernels apart (a VM booting the host's newest kernel has
    the same one); the boot_id can: one random id per booted kernel, the same for every
    process on it, namespaces or not."""
    out = session.targets[target].run(
        Job(BUSYBOX, ["sh", "-c", f"uname -r; cat {BOOT_ID}"], sample_hz=0))
    lines = out.stdout.split()
    release, boot_id = (lines + ["", ""])[:2]
    host_boot_id = Path(BOOT_ID).read_text().strip()
    rec.extra = {"release": release, "host_release": os.uname().release,
                 "boot_id": boot_id or None, "host_boot_id": host_boot_id,
                 "accel": out.extra.get("accel")}
    if not boot_id:
        raise RuntimeError(f"no boot_id from {target}: {out.stdout.strip()!r}")
    rec.metrics = {"same_as_host": float(boot_id == host_boot_id)}


def _namespaces(session: Session, target: str, rec: RunRecord) -> None:
    rt = session.rt
    c = rt.run(ContainerSpec(BUSYBOX, ["sleep", "60"]), detach=True).container
    try:
        inside = _exec_output(session, c.id, "cat /proc/1/comm; hostname; ls /sys/class/net")
        info = rt.inspect(c.id)
        # The host's view of the same process: its pid here, and in its own namespace.
        with open(f"/proc/{info['State']['Pid']}/status") as f:
            nspid = next(line.split()[1:] for line in f if line.startswith("NSpid:"))
    finally:
        rt.remove(c.id, force=True)
    lines = inside.split()
    host_ns = {n: os.stat(f"/proc/self/ns/{n}").st_ino for n in info["Namespaces"]}
    rec.extra = {"pid_in_container": int(nspid[-1]), "pid1_command": lines[0] if lines else "",
                 "hostname_differs": len(lines) > 1 and lines[1] != os.uname().nodename,
                 "host_pids": [int(p) for p in nspid],
                 "net_interfaces": lines[2:], "ns_inodes_container": info["Namespaces"],
                 "ns_inodes_host": host_ns, "pid_on_host": info["State"]["Pid"],
                 "cgroup": info["Cgroup"]["Name"], "chroot": _chroot_view(session)}
    rec.metrics = {"namespaces_differing": float(sum(
        info["Namespaces"][n] != host_ns[n] for n in info["Namespaces"]))}


def _isolation(session: Session, target: str, rec: RunRecord) -> None:
    """Claim 7: runc runs the image's bundle (config.json and a rootfs of its layers) and
    isolates it as isobench does; the same probe under each runtime."""
    out = session.targets[target].run(Job(BUSYBOX, ["sh", "-c", ISOLATION_PROBE], sample_hz=0))
    lines = out.stdout.split("\n")
    if out.exit_code != 0 or len(lines) < 2 + len(ISOLATION_NAMESPACES):
        raise RuntimeError(f"isolation probe on {target} exited {out.exit_code}: "
                           f"{(out.stderr or out.stdout).strip()[:200]!r}")
    inside = {name: _ns_inode(line) for name, line in zip(ISOLATION_NAMESPACES, lines[1:],
                                                            strict=False)}
    host = {n: os.stat(f"/proc/self/ns/{n}").st_ino for n in ISOLATION_NAMESPACES}
    rec.extra = {"pid_inside": int(lines[0]), "ns_inodes": inside, "ns_inodes_host": host,
                 "rootfs_busybox_sha256": lines[1 + len(ISOLATION_NAMESPACES)].split()[0]}
    rec.metrics = {"namespaces_differing": float(sum(inside[n] != host[n] for n in host))}


def _ns_inode(link: str) -> int | None:
    """`pid:[4026531836]` -> 4026531836."""
    inner = link.strip().partition("[")[2].rstrip("]")
    return int(inner) if inner.isdigit() else None


def _exec_output(session: Session, cid: str, script: str) -> str:
    proc = subprocess.run([ISOBENCH, "exec", cid, "sh", "-c", script], env=cli_env(session.rt),
                          capture_output=True, text=True, timeout=60)
    return proc.stdout


def _chroot_view(session: Session) -> dict[str, Any]:
    """chroot alone (1979): the same root change, no namespace. The host's processes and
    interfaces stay visible, and nothing limits it."""
    layer = session.rt.images.lower_dirs(session.rt.image(BUSYBOX))[-1]  # read-only use only
    script = f"kill -0 {os.getpid()} && echo sees-host-pid; ip -o link | wc -l"
    proc = subprocess.run(["chroot", layer, "/bin/sh", "-c", script], capture_output=True,
                          text=True, timeout=30)
    host_links = len(subprocess.run(["ip", "-o", "link"], capture_output=True,
                                    text=True).stdout.splitlines())
    words = proc.stdout.split()
    return {"sees_host_pids": "sees-host-pid" in words,
            "sees_host_net": bool(words) and words[-1].isdigit() and int(words[-1]) == host_links,
            "host_interfaces": host_links}


def _build_trace(session: Session, target: str, rec: RunRecord) -> None:
    ctx = Path(tempfile.mkdtemp(prefix="isobench-evidence-"))
    tag = f"isobench-evidence-{secrets.token_hex(4)}"
    try:
        token = secrets.token_hex(8)
        (ctx / "app.txt").write_text(f"built for the trace {token}\n")
        # the token in the first step makes every step a miss on the first build, also when
        # an earlier repetition built the same file
        (ctx / "Dockerfile").write_text(
            f"FROM busybox\nENV GREETING=hello TRACE={token}\nWORKDIR /app\nCOPY app.txt ./\n"
            'RUN echo "$GREETING" > built.txt\nCMD ["cat", "app.txt", "built.txt"]\n')
        builder = Builder(session.rt, progress=Silent())  # its RUN's echo is not for the user
        t0 = time.perf_counter()
        cold = builder.build(ctx, tag=tag)
        cold_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        cached = builder.build(ctx, tag=tag)
        cached_s = time.perf_counter() - t0
        c = session.rt.run(ContainerSpec(tag, ["sleep", "30"], network="none"),
                           detach=True).container
        try:
            info = session.rt.inspect(c.id)
            root_lower = _root_lowerdirs(info["State"]["Pid"])
        finally:
            session.rt.remove(c.id, force=True)
        image = session.rt.image(tag)
        expected_lower = session.rt.images.lower_dirs(image)
        # the digests claim to name the layers' content: hash each layer's tree again
        rehashed = {d: tree_digest(session.rt.images.layer_path(d))[0]
                    for d in image.layers}
        session.rt.remove_image(tag, force=True)
    finally:
        shutil.rmtree(ctx, ignore_errors=True)

    def steps(result: Any) -> list[dict[str, Any]]:
        return [{"text": s.text, "cached": s.cached, "seconds": s.seconds, "layer": s.layer}
                for s in result.steps]

    rec.metrics = {"cold_s": cold_s, "cached_s": cached_s,
                   "cached_steps": float(sum(s.cached for s in cached.steps))}
    rec.extra = {"dockerfile": (ctx / "Dockerfile").name, "cold_steps": steps(cold),
                 "cached_steps": steps(cached),
                 "image": {"id": cold.image.id, "layers": cold.image.layers,
                           "same_id_when_cached": cached.image.id == cold.image.id,
                           "layers_rehashed_equal": sum(rehashed[d] == d for d in rehashed)},
                 "container": {"id": info["Id"], "pid": info["State"]["Pid"],
                               "namespaces": info["Namespaces"],
                               "cgroup": info["Cgroup"]["Name"],
                               "root_lowerdirs": len(root_lower or []),
                               "root_is_image_layers": root_lower == expected_lower}}


def _root_lowerdirs(pid: int) -> list[str] | None:
    """The overlay lower directories of a process's root, from its mountinfo (None when its
    root is not an overlay)."""
    found = None
    with open(f"/proc/{pid}/mountinfo") as f:
        for line in f:
            fields = line.split()
            sep = fields.index("-")
            if fields[4] == "/":  # the last mount on / is the one the process sees
                options = dict(o.partition("=")[::2] for o in fields[sep + 3].split(","))
                found = options["lowerdir"].split(":") if fields[sep + 1] == "overlay" and \
                    "lowerdir" in options else None
    return found


def _volume_round_trip(session: Session, target: str, rec: RunRecord) -> None:
    rt = session.rt
    volume = f"isobench-evidence-{secrets.token_hex(4)}"
    token = secrets.token_hex(8)
    try:
        script = f"echo {token} > /data/kept; echo {token} > /lost"
        rt.run(ContainerSpec(BUSYBOX, ["sh", "-c", script], network="none",
                             volumes=[f"{volume}:/data"], auto_remove=True))
        reader = rt.run(ContainerSpec(BUSYBOX, ["sleep", "30"], network="none",
                                      volumes=[f"{volume}:/data"]), detach=True).container
        try:
            seen = _exec_output(session, reader.id, "cat /data/kept; cat /lost 2>/dev/null || true")
        finally:
            rt.remove(reader.id, force=True)
    finally:
        rt.remove_volume(volume)
    rec.metrics = {"survived": float(token in seen.splitlines()[:1]),
                   "container_layer_survived": float(seen.count(token) > 1)}
    rec.extra = {"volume": volume, "read_back": seen.strip()}


COLLECTORS: dict[str, Collector] = {
    "evidence.kernel": _kernel, "evidence.namespaces": _namespaces,
    "evidence.build": _build_trace, "evidence.volume": _volume_round_trip,
    "evidence.runc": _isolation, **APP_COLLECTORS}


WORKLOAD = Evidence(
    "evidence", "bench", VARIANTS,
    "the lecture's claims checked directly: the kernel release inside each target against the "
    "host's; namespaces seen from inside and outside a container and what chroot alone leaves "
    "visible; a Dockerfile traced to an image (layers, digests, cache hits, cold and cached "
    "build times) and to a container (pid, namespaces, cgroup); data in a volume outliving its "
    "container.")
