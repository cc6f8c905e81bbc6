"""The runtime's Python API: Docker's verbs over isobench's store, cgroups and launcher."""

from __future__ import annotations

import os
import shutil
import signal
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from runtime import (
    health,
    inspection,
    launcher,
    logfile,
    monitor_hooks,
    private,
    relay,
    removal,
    security,
)
from runtime import syscalls as sc_mod
from runtime.attachments import Attachments, Plugged
from runtime.cgroups import Cgroup, CgroupFactory, CgroupStats, open_cgroup
from runtime.cgroups.devices import ALLOW_ALL, DEFAULT_DEVICE_RULES
from runtime.containers import (
    ACTIVE,
    Container,
    ContainerConfig,
    ContainerStore,
    is_alive,
    now,
)
from runtime.errors import Conflict, InvalidArgument, IsobenchError, NotFound
from runtime.fsutil import CorruptState, state_root
from runtime.image import config as image_config
from runtime.image.bases import get_image
from runtime.image.store import Image, ImageStore, normalize_ref
from runtime.init import ExecFailure, InitSpec, ProcessSpec
from runtime.limits import Limits
from runtime.network import CONTAINER_MODE, NetworkStore, is_named
from runtime.options import (
    ULIMITS,
    RestartPolicy,
    parse_dns,
    parse_extra_host,
    parse_signal,
    parse_tmpfs,
)
from runtime.ports import parse_publish
from runtime.removal import REMOVING, WAIT_CONDITIONS
from runtime.rootfs import RootfsPlan
from runtime.spec import ContainerSpec
from runtime.volumes import MountSpec, VolumeStore, parse_volume_spec

STOP_TIMEOUT_S = 10.0


class StartError(IsobenchError):
    """The container's command could not be started (125, 126 or 127)."""


@dataclass
class RunResult:
    container: Container
    exit_code: int | None  # None while a detached container runs


class Runtime:
    def __init__(self, root: Path | None = None, syscalls: sc_mod.Syscalls = sc_mod.REAL) -> None:
        self.root = Path(root) if root else state_root()
        private.secure_state(self.root)  # 0700, tightened if looser; refused if unsafe
        self.sc = syscalls
        self.images = ImageStore(self.root)
        self.containers = ContainerStore(self.root)
        self.cgroups = CgroupFactory.from_env()
        self.volumes = VolumeStore(self.root)
        self.networks = NetworkStore(self.root)
        self.attachments = Attachments(self.containers, self.volumes, self.networks)
        self._held: dict[str, int] = {}  # record locks of containers this process makes

    @property
    def cgroup_parent(self) -> str:
        return self.cgroups.parent

    # ---- images ----
    def image(self, ref: str) -> Image:
        """From the store; the built-in bases (busybox, debian:bookworm) are made on first use."""
        return get_image(self.images, ref)

    def remove_image(self, ref: str, force: bool = False) -> list[str]:
        """Docker's rmi: untag, and delete the image once no tag is left. Refused while a
        container uses it, unless forced (its layers then stay while containers need them)."""
        image = self.images.get(ref)
        self._await_removal()  # ... and its image
        users = [c for c in self.containers.list() if c.config.image_id == image.id]
        if users and not force:
            raise Conflict(f'conflict: unable to remove repository reference "{ref}" (must '
                           f"force) - container {users[0].short_id} is using its referenced "
                           f"image {image.id.split(':')[1][:12]}", 1)
        tag = normalize_ref(ref)
        deletes = force or tag not in image.tags or len(image.tags) == 1
        builders = self.images.pinned_by(image.id) if deletes and not force else []
        if builders:  # a build FROM it, or an import, is under way: nothing is touched
            raise Conflict(f'conflict: unable to remove repository reference "{ref}" (must '
                           f"force) - a build or import (pid {builders[0]}) is using image "
                           f"{image.id.split(':')[1][:12]}", 1)
        lines = []
        if tag in image.tags:
            self.images.untag(tag)
            lines.append(f"Untagged: {tag}")
            if len(image.tags) > 1 and not force:
                return lines

        def in_use() -> set[str]:  # asked under the store's lock: the containers of now
            dirs = {d for c in self.containers.list() for d in c.config.lower_dirs}
            return {d for d in image.layers if str(self.images.layer_path(d)) in dirs}

        self.images.delete(image, in_use, force=force)
        lines += [f"Untagged: {t}" for t in image.tags if t != tag]
        lines.append(f"Deleted: {image.id}")
        return lines

    # ---- create / start / run ----
    def create(self, spec: ContainerSpec, *, start_pending: bool = False) -> Container:
        """Validate everything, then record the container; no resource exists yet.
        `start_pending`: a start follows at once (run), so a crash before it is garbage."""
        network, sec = spec.network, spec.security
        if network.startswith(CONTAINER_MODE):  # joins another container's network
            network = CONTAINER_MODE + self.get(network[len(CONTAINER_MODE):]).id
            if spec.publish:
                raise InvalidArgument("conflicting options: port publishing and the "
                                      "container type network mode")
        elif is_named(network):
            try:
                self.networks.get(network)
            except NotFound as e:
                raise NotFound(str(e), 125) from None
        try:
            security.hardening(sec.privileged, sec.cap_add, sec.cap_drop, sec.security_opt)
        except ValueError as e:
            raise InvalidArgument(str(e)) from None
        if spec.workdir and not spec.workdir.startswith("/"):
            raise InvalidArgument(f"the working directory '{spec.workdir}' is invalid, it "
                                  "needs to be an absolute path")
        for item in spec.env:
            if not item.partition("=")[0]:
                raise InvalidArgument(f"invalid environment variable: {item}")
        stop_signal = self._check_process_options(spec)
        mounts = [parse_volume_spec(v) for v in spec.volumes]
        mappings = [parse_publish(p) for p in spec.publish] if is_named(network) \
            else []
        if spec.rootfs is not None:
            if not os.path.isdir(spec.rootfs):
                raise InvalidArgument(f"invalid rootfs {spec.rootfs!r}: not a directory")
            path = os.path.abspath(spec.rootfs)
            img, lower, image_ref = None, [path], f"rootfs:{path}"
        elif isinstance(spec.image, Image):  # an image being built: not (yet) in the store
            img, lower, image_ref = spec.image, self.images.lower_dirs(spec.image), spec.image.id
        elif spec.image:
            img = self.image(spec.image)
            lower, image_ref = self.images.lower_dirs(img), spec.image
        else:
            raise InvalidArgument("an image or --rootfs is required")
        config = img.config if img else None
        process = image_config.resolve(config, spec)
        # Anonymous volumes for the image's VOLUMEs that no -v covers, as Docker.
        covered = {m.target for m in mounts}
        mounts += [MountSpec("volume", "", os.path.normpath(path))
                   for path in (config.Volumes if config else {}) if path not in covered]
        cid = self.containers.new_id()
        self._hold_new(cid)  # directory and lock before the name: gc finds a half-made one
        try:
            name = self._reserve_name(spec.name, cid)
        except BaseException:
            self._release(cid)
            shutil.rmtree(self.containers.path(cid), ignore_errors=True)
            raise
        c = Container(
            id=cid, name=name, created=now(),
            config=ContainerConfig(
                image=image_ref, image_id=img.id if img else None, argv=process.argv,
                env=process.env, workdir=process.workdir, user=process.user,
                hostname=spec.hostname or cid[:12], network=network,
                limits=spec.limits.to_dict(), auto_remove=spec.auto_remove,
                readonly_rootfs=spec.readonly_rootfs, lower_dirs=lower,
                binds=[list(b) for b in spec.binds],
                mounts=[m.to_dict() for m in mounts], publish=[m.to_dict() for m in mappings],
                labels=dict(spec.labels), aliases=list(spec.aliases),
                privileged=sec.privileged, cap_add=list(sec.cap_add),
                cap_drop=list(sec.cap_drop), security_opt=list(sec.security_opt),
                tmpfs=list(spec.tmpfs), restart_policy=spec.restart.to_dict(),
                healthcheck=(spec.healthcheck.to_dict() if spec.healthcheck
                             and not spec.healthcheck.disabled else None),
                init=spec.init, stop_signal=stop_signal, stop_timeout=spec.stop_timeout,
                ulimits=[[u.name, u.soft, u.hard] for u in spec.ulimits],
                dns=list(spec.dns), extra_hosts=list(spec.extra_hosts),
            ),
            cgroup=self.cgroups.name(cid),
        )
        c.state.start_pending = start_pending
        base = self.containers.path(cid)
        try:
            for d in ("upper", "work", "rootfs"):
                (base / d).mkdir(parents=True)
            c.mounts = self._plan(c).mounts()
            self.containers.save(c, create=True)
            # From here the record keeps the layers from `rmi`; one that came between
            # resolving the image and the record took them: fail now, not at the mount.
            if img is not None and not self.images.has_layers(img.layers):
                raise NotFound(f"image {image_ref} was removed while the container was "
                               "created", 125)
        except BaseException:
            self.containers.remove(c)
            self._release(cid)
            raise
        return c

    def _reserve_name(self, name: str | None, cid: str) -> str:
        """The name, once a --rm container holding it has been removed: its caller returned
        at the exit, before the teardown; a `run --name X` right after it waits for the
        removal (bounded) rather than failing on a container the user has seen end."""
        try:
            return self.containers.reserve_name(name, cid)
        except Conflict:
            if name is None or not self._await_removal(name):
                raise
        return self.containers.reserve_name(name, cid)

    def _await_removal(self, ref: str | None = None) -> bool:
        """Wait (REMOVAL_WAIT_S at most) until the container `ref`, or every container, is
        no longer "removing"; False when `ref` names none that was."""
        return removal.await_removal(
            lambda: [self.get(ref)] if ref is not None else self.list(all_=True))

    @staticmethod
    def _check_process_options(spec: ContainerSpec) -> int:
        """--restart, --rm, --stop-signal, --tmpfs, --add-host, --dns: refused as Docker."""
        try:
            stop_signal = parse_signal(spec.stop_signal) if spec.stop_signal else 15
            for entry in spec.tmpfs:
                parse_tmpfs(entry)
            for entry in spec.extra_hosts:
                parse_extra_host(entry)
            for entry in spec.dns:
                parse_dns(entry)
        except ValueError as e:
            raise InvalidArgument(str(e)) from None
        if spec.auto_remove and spec.restart.name != "no":
            raise InvalidArgument("conflicting options: cannot specify both --restart and --rm")
        if spec.stop_timeout is not None and spec.stop_timeout < 0:
            raise InvalidArgument("invalid stop timeout: must not be negative")
        return stop_signal

    def _hold_new(self, cid: str) -> None:
        self.containers.path(cid).mkdir(parents=True)
        fd = self.containers.hold(cid)
        assert fd is not None  # a fresh random id: nobody else can hold it
        self._held[cid] = fd

    def _release(self, cid: str) -> None:
        """Let go of a record's lock (the monitor, once forked, holds its own copy)."""
        fd = self._held.pop(cid, None)
        if fd is not None:
            os.close(fd)

    def _plan(self, c: Container) -> RootfsPlan:
        base = self.containers.path(c.id)
        return RootfsPlan(target=str(base / "rootfs"), lower=c.config.lower_dirs,
                          upper=str(base / "upper"), work=str(base / "work"),
                          readonly=c.config.readonly_rootfs,
                          binds=[(host, inside, bool(ro)) for host, inside, ro in c.config.binds],
                          tmpfs=[parse_tmpfs(t) for t in c.config.tmpfs],
                          **({"privileged": True, "masked": (), "readonly_paths": ()}
                             if c.config.privileged else {}))

    @staticmethod
    def _hardening(c: Container) -> security.Hardening:
        return security.hardening(c.config.privileged, c.config.cap_add, c.config.cap_drop,
                                  c.config.security_opt)

    def _cgroup(self, c: Container) -> Cgroup:
        return open_cgroup(c.cgroup)

    def start(self, c: Container, *, attach: bool = True, interactive: bool = False,
              tty: bool = False, output: int | None = None,
              exit_first: bool = False) -> int | None:
        """Start a created container. Attached: returns its exit code when it ends; its
        output goes to our stdout and stderr, or to the descriptor `output`.
        Detached: returns None once the command runs. A failed start removes everything.
        `exit_first` (attached, --rm): return once the exit is known; the teardown goes on
        in the monitor, the container "removing" until it ends (its name reserved).
        The record's lock is held from here and handed to the monitor, which keeps it until
        the container is torn down: `isobench gc` tells a crashed start or monitor by it."""
        if c.id not in self._held:
            lock = self.containers.hold(c.id, wait=False)
            if lock is None:
                raise Conflict(f"container {c.short_id} is already being started, or is gone",
                               1)
            self._held[c.id] = lock
        cg = self._cgroup(c)
        self._stop_marker(c).unlink(missing_ok=True)  # a fresh start: the policy applies again
        c.state.restart_count, c.state.health = 0, None
        try:
            if not c.state.start_pending:  # recorded before the cgroup and the network exist
                c.state.start_pending = True
                self.containers.save(c)
            hardened = self._hardening(c)
            program = hardened.program(self.root / "seccomp")  # before fork: cached BPF
            cg.create()
            cg.set_limits(Limits.from_dict(c.config.limits))
            cg.set_devices(ALLOW_ALL if hardened.privileged else DEFAULT_DEVICE_RULES)
            plugged = self.attachments.plug(c)
            if c.config.network.startswith(CONTAINER_MODE):
                plugged.netns = self._network_of(c.config.network[len(CONTAINER_MODE):])
        except BaseException:
            cg.destroy()
            self.containers.remove(c)
            self._release(c.id)
            raise
        plan = self._plan(c)
        plan.binds, plan.fill = plugged.binds, plugged.fill
        spec = InitSpec(
            process=ProcessSpec(argv=c.config.argv, env=c.config.env, workdir=c.config.workdir,
                                user=c.config.user, capabilities=hardened.mask,
                                seccomp=program, rlimits=self._rlimits(c)),
            rootfs=plan, hostname=c.config.hostname, cgroup_procs=cg.procs_paths(),
            network=c.config.network, netns=plugged.netns, init=c.config.init,
        )
        try:
            started = launcher.start(self.sc, spec, self._hooks(c, cg, plugged),
                                     str(self.containers.path(c.id) / "log.json"),
                                     attach=attach, interactive=interactive, tty=tty,
                                     output=output, keep_fds={self._held[c.id],
                                               *(s.fileno() for s, _ in plugged.listeners)},
                                     handoff=None if attach else self._handoff(c, plugged),
                                     exit_first=exit_first and c.config.auto_remove)
        finally:
            plugged.close_listeners()  # the monitor holds its own copies
            self._release(c.id)
        if started.error_code:
            if attach:
                launcher.wait_attached(started)
            raise StartError(started.error, started.error_code)
        c.state.pid = started.pid
        if not attach:
            return None
        return launcher.wait_attached(started)

    def finish(self, c: Container, code: int) -> None:
        """The monitor's teardown once the command has exited for good: the cgroup's final
        counters and OOM kills recorded, the cgroup and network endpoint gone, the record
        marked exited (or removed, --rm)."""
        cg = self._cgroup(c)
        stats = cg.stats()
        c.state.stats = stats.to_dict()
        c.state.oom_killed = bool(stats.oom_kills)
        # Docker's FinishedAt is the exit, not the end of our teardown (~0.1 s later: the
        # teardown's own interpreter start): the moment the exit code was written
        exited = relay.exited_at(str(self.containers.path(c.id)))
        c.state.status, c.state.exit_code = "exited", code
        c.state.finished_at = exited if exited is not None else now()
        try:
            cg.destroy()
            self.attachments.unplug(c, remove_anonymous=c.config.auto_remove)
        except Exception as e:
            # The exit stays known (wait, inspect) and what is left stays findable: the
            # record keeps the failure in State.Error, as Docker's does, and `rm -f` retries
            # the clean-up. Without this save a monitor that failed here left a "dead" record
            # with no exit code, and `wait` returned none long before its timeout.
            c.state.error = f"teardown: {e}"
            c.state.monitor_cpu_s = relay.own_cpu_s()
            self.containers.save(c)
            raise
        c.state.monitor_cpu_s = relay.own_cpu_s()
        if c.config.auto_remove:
            self.containers.remove(c)
        else:
            self.containers.save(c)

    def _handoff(self, c: Container, plugged: Plugged) -> launcher.Handoff | None:
        """The small monitor (launcher.Handoff) for a detached container whose monitor only
        relays and reaps while it runs; None when it also probes its health, restarts it or
        proxies its published ports (threads of the monitor), which need the whole runtime.
        Attached ones keep the fork: it shares its pages with the caller, which lives as
        long, and two execs (the relay's start, ~10 ms, and the teardown's imports, ~80 ms)
        would sit between the exit and the caller (measured: API start 30 -> 116-188 ms)."""
        if (plugged.listeners or c.config.healthcheck
                or RestartPolicy.from_dict(c.config.restart_policy).name != "no"):
            return None
        return launcher.Handoff(relay.teardown_command(str(self.root), c.id),
                                {self._held[c.id]})

    def _hooks(self, c: Container, cg: Cgroup, plugged: Plugged) -> launcher.MonitorHooks:
        """Run in the monitor process: they record state and tear down (runtime/monitor_hooks)."""
        return monitor_hooks.build(self.sc, c, cg, plugged, self.containers, self.attachments,
                                   finish=lambda code: self.finish(c, code),
                                   stop_marker=self._stop_marker(c),
                                   probe_spec=self._probe_spec(c))

    def _probe_spec(self, c: Container) -> ProcessSpec | None:
        """The health check's process, as hardened as the container's; None without one."""
        check = health.Healthcheck.from_dict(c.config.healthcheck)
        if check is None:
            return None
        spec = ProcessSpec(argv=check.argv(), env=c.config.env, workdir=c.config.workdir,
                           user=c.config.user, rlimits=self._rlimits(c))
        hardened = self._hardening(c)
        spec.capabilities = hardened.mask
        spec.seccomp = hardened.program(self.root / "seccomp")
        return spec

    def _network_of(self, ref: str) -> str:
        """The network namespace of a running container, for --network container:ID."""
        other = self.get(ref)
        if other.state.status != "running":
            raise Conflict(f"cannot join the network of a non running container: "
                           f"{other.short_id}", 125)
        return f"/proc/{other.state.pid}/ns/net"

    def _stop_marker(self, c: Container) -> Path:
        """Written by stop, kill and rm -f before they signal: the restart policy stands
        down (Docker's HasBeenManuallyStopped)."""
        return self.containers.path(c.id) / "stop-requested"

    @staticmethod
    def _rlimits(c: Container) -> list[tuple[int, int, int]]:
        return [(ULIMITS[name], int(soft), int(hard)) for name, soft, hard in c.config.ulimits]

    def run(self, spec: ContainerSpec, *, detach: bool = False,
            interactive: bool = False, tty: bool = False, exit_first: bool = False) -> RunResult:
        c = self.create(spec, start_pending=True)
        code = self.start(c, attach=not detach, interactive=interactive, tty=tty,
                          exit_first=exit_first)
        return RunResult(c, code)

    # ---- lifecycle ----
    def get(self, ref: str) -> Container:
        c = self.containers.resolve(ref)
        return self._refresh(c)

    def _refresh(self, c: Container) -> Container:
        """A running record whose process and monitor are both gone died with a crash; a
        --rm one whose process is gone and whose monitor is not is being removed (its exit
        code written beside its log)."""
        if c.state.status in ACTIVE and not is_alive(c.state.pid, c.state.pid_start):
            if not is_alive(c.state.monitor_pid, c.state.monitor_start):
                c.state.status = "dead"
            elif c.state.status == "running" and c.config.auto_remove:
                c.state.status = REMOVING
                try:
                    code = (self.containers.path(c.id) / relay.EXIT_CODE_FILE).read_text()
                    c.state.exit_code = int(code)
                except (OSError, ValueError):
                    pass  # not reaped yet
        return c

    def list(self, all_: bool = False) -> list[Container]:
        found = [self._refresh(c) for c in self.containers.list()]
        return found if all_ else [c for c in found if c.state.status in ACTIVE]

    def wait(self, ref: str, timeout: float | None = None,
             condition: str = "not-running") -> int | None:
        """Docker's `wait` (`container wait --condition`): block until the container is no
        longer running ("not-running": exited, or being removed) or no longer exists
        ("removed"); its exit code (None on timeout, or when nobody recorded one)."""
        if condition not in WAIT_CONDITIONS:
            raise InvalidArgument(f"invalid condition: {condition!r} (one of "
                                  f"{', '.join(WAIT_CONDITIONS)})")
        return removal.wait_until(self.get, self.get(ref), condition, timeout)

    def kill(self, ref: str, sig: int = signal.SIGKILL) -> Container:
        c = self.get(ref)
        if c.state.status != "running":
            raise Conflict(f"Cannot kill container: {ref}: container {c.short_id} is not running",
                           1)
        if sig in (signal.SIGKILL, c.config.stop_signal):  # a stop: no restart follows
            self._stop_marker(c).touch()
        os.kill(c.state.pid, sig)
        if sig == signal.SIGKILL:
            removal.wait_finished(c, STOP_TIMEOUT_S)
        return c

    def stop(self, ref: str, timeout: float | None = None) -> Container:
        """The container's stop signal (SIGTERM unless --stop-signal), then SIGKILL to every
        process of it after `timeout` (default: its --stop-timeout, else 10 s). A restart
        policy stands down; a container between two runs of one just stays stopped."""
        c = self.get(ref)
        if c.state.status not in ACTIVE:
            return c
        if timeout is None:
            timeout = STOP_TIMEOUT_S if c.config.stop_timeout is None else c.config.stop_timeout
        self._stop_marker(c).touch()
        c = self.get(ref)  # the run of now: the marker keeps another from starting
        if c.state.status == "running":
            try:
                os.kill(c.state.pid, c.config.stop_signal)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + timeout
        while is_alive(c.state.pid, c.state.pid_start) and time.monotonic() < deadline:
            time.sleep(0.01)
        if is_alive(c.state.pid, c.state.pid_start):
            self._cgroup(c).kill()
        removal.reap(c, self._cgroup(c), STOP_TIMEOUT_S)  # and a run begun as the marker came
        return c

    def remove(self, ref: str, force: bool = False, volumes: bool = False) -> Container | None:
        try:
            c = self.get(ref)
        except CorruptState as e:
            if not force:
                raise
            removal.remove_unreadable(self.containers, self.cgroups, self.networks,
                                      e.path.parent.name, e)
            return None
        if c.state.status == REMOVING:
            raise Conflict(f"removal of container {ref} is already in progress", 1)
        if c.state.status in ACTIVE:
            if not force:
                raise Conflict(f"You cannot remove a {c.state.status} container {c.id}. Stop "
                               "the container before attempting removal or force remove", 1)
            self._stop_marker(c).touch()
            self._cgroup(c).kill()
            removal.reap(c, self._cgroup(c), STOP_TIMEOUT_S)
        self._cgroup(c).destroy()  # in case a crash left it
        self.attachments.unplug(c, remove_anonymous=volumes)
        self.containers.remove(c)
        return c

    def remove_volume(self, name: str) -> None:
        self._await_removal()  # a --rm container being removed still uses its volumes
        self.volumes.remove(name, users=self.attachments.volume_users(name))

    def remove_network(self, name: str) -> None:
        self._await_removal()  # ... and its network endpoint
        self.networks.remove(name)

    def exec(self, ref: str, argv: list[str], *, env: list[str] | None = None,
             workdir: str | None = None, user: str | None = None,
             interactive: bool = False) -> int:
        c = self.get(ref)
        if c.state.status != "running":
            raise Conflict(f"container {c.short_id} is not running", 1)
        if not argv:
            raise InvalidArgument("exec requires a command")
        spec = ProcessSpec(argv=argv, env=image_config.merge_env(c.config.env, env or []),
                           workdir=workdir or c.config.workdir,
                           user=user if user is not None else c.config.user)
        hardened = self._hardening(c)  # the container's capabilities and profile, as Docker
        spec.capabilities, spec.seccomp = hardened.mask, hardened.program(self.root / "seccomp")
        try:
            return launcher.exec_in(self.sc, c.state.pid, spec, c.config.hostname,
                                    self._cgroup(c).procs_paths(), interactive)
        except ExecFailure as e:
            raise StartError(str(e), e.code) from None

    def logs(self, ref: str, *, follow: bool = False, poll_s: float = 0.1
             ) -> Iterator[tuple[str, bytes]]:
        """The container's output as logged. `follow` (`logs -f`): keep reading what it
        writes until it is no longer running (or is removed), then what is left, and stop."""
        c = self.get(ref)

        def running() -> bool:
            try:
                return self.get(c.id).state.status == "running"
            except NotFound:  # --rm: the record went with the container
                return False

        yield from logfile.entries(self.containers.path(c.id) / "log.json", follow,
                                   c.state.status == "running", running, poll_s)

    def stats(self, c: Container) -> CgroupStats:
        """A running container's cgroup counters now (`isobench stats`), the collectors'
        normalized CgroupStats; an exited one's as recorded when it ended."""
        if c.state.status != "running":
            return CgroupStats.from_dict(c.state.stats or {})
        return self._cgroup(c).stats()

    def inspect(self, ref: str) -> dict[str, Any]:
        """Docker's `inspect` document of the container (runtime/inspection.py)."""
        c = self.get(ref)
        return inspection.inspect_dict(c, self._cgroup(c))
