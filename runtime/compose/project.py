"""Compose: a validated Project (runtime.compose.loader) brought up and down with the runtime.

`up` checks everything it can before it creates anything (the file, images, bind sources,
port and volume specs, networks of the same name that belong to someone else), builds, then
creates networks and volumes and starts the services in dependency order. If any step
fails, what this invocation created is removed before the error is reported. What belongs
to a project is found by its labels, so `down`, `ps` and `logs` need only the project name.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, BinaryIO, Protocol

from runtime.compose.errors import ComposeError
from runtime.compose.model import Project, Service
from runtime.containers import Container
from runtime.errors import IsobenchError, NotFound
from runtime.ports import parse_publish
from runtime.spec import ContainerSpec
from runtime.volumes import parse_volume_spec

if TYPE_CHECKING:
    from runtime.api import Runtime

STOP_TIMEOUT_S = 10.0
POLL_S = 0.1
FINISHED = ("exited", "dead")
ACTIVE = ("running", "restarting")

# Docker compose's labels: what belongs to a project is found by them.
LABEL_PROJECT = "com.docker.compose.project"
LABEL_SERVICE = "com.docker.compose.service"
LABEL_NUMBER = "com.docker.compose.container-number"
LABEL_WORKDIR = "com.docker.compose.project.working_dir"
LABEL_FILES = "com.docker.compose.project.config_files"
LABEL_NETWORK = "com.docker.compose.network"
LABEL_VOLUME = "com.docker.compose.volume"


class Labelled(Protocol):
    """A network or a volume, as `down` sees it."""

    name: str
    labels: dict[str, str]


def _stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


@dataclass
class Created:
    """What one `up` made, in order, so a failure can take exactly that back."""

    containers: list[str] = field(default_factory=list)
    networks: list[str] = field(default_factory=list)
    volumes: list[str] = field(default_factory=list)


def service_of(c: Container) -> str:
    return c.config.labels.get(LABEL_SERVICE, "")


def display_name(c: Container) -> str:
    """compose's log prefix: `<service>-<number>`."""
    return f"{service_of(c)}-{c.config.labels.get(LABEL_NUMBER, '1')}"


def project_containers(rt: Runtime, project: str, services: Iterable[str] | None = None
                       ) -> list[Container]:
    wanted = set(services) if services else None
    found = [c for c in rt.list(all_=True) if c.config.labels.get(LABEL_PROJECT) == project
             and (wanted is None or service_of(c) in wanted)]
    return sorted(found, key=lambda c: (service_of(c), int(c.config.labels.get(LABEL_NUMBER,
                                                                                  "1"))))


def mount_specs(project: Project, service: Service) -> list[str]:
    """The service's volumes as the runtime's -v specs."""
    specs = []
    for m in service.volumes:
        source = m.source if m.bind or not m.source else project.volume_name(m.source)
        spec = f"{source}:{m.target}" if source else m.target
        specs.append(spec + (":ro" if m.read_only else ""))
    return specs


# ---- logs -------------------------------------------------------------------------------------

class LogTail:
    """Reads a container's json-file log from where it left off; holds partial lines back
    until their end arrives, so each printed line gets one prefix."""

    def __init__(self, rt: Runtime, c: Container) -> None:
        self.path = rt.containers.path(c.id) / "log.json"
        self.offset = 0
        self.pending: dict[str, bytes] = {"stdout": b"", "stderr": b""}

    def read(self) -> list[tuple[float, str, bytes]]:
        """New complete lines as (time, stream, line with its newline)."""
        try:
            with open(self.path, "rb") as f:
                f.seek(self.offset)
                data = f.read()
        except FileNotFoundError:
            return []
        end = data.rfind(b"\n") + 1  # only whole records: the writer may be mid-line
        self.offset += end
        out = []
        for raw in data[:end].splitlines():
            try:
                entry = json.loads(raw)
            except ValueError:
                continue
            stream = entry.get("stream", "stdout")
            chunk = self.pending.get(stream, b"") + entry.get("log", "").encode(
                "utf-8", "surrogateescape")
            *lines, rest = chunk.split(b"\n")
            self.pending[stream] = rest
            out += [(entry.get("time", 0.0), stream, line + b"\n") for line in lines]
        return out

    def flush(self) -> list[tuple[float, str, bytes]]:
        """What is left without a final newline, once the container has ended."""
        out = [(time.time(), stream, rest + b"\n") for stream, rest in self.pending.items()
               if rest]
        self.pending = {"stdout": b"", "stderr": b""}
        return out


class LogPrinter:
    """`web-1  | line`: names padded to the longest plus one, as compose prints them."""

    def __init__(self, names: Iterable[str], stdout: BinaryIO | None = None,
                 stderr: BinaryIO | None = None) -> None:
        self.width = max((len(n) for n in names), default=0) + 1
        self.stdout = stdout or sys.stdout.buffer
        self.stderr = stderr or sys.stderr.buffer

    def prefix(self, name: str) -> bytes:
        return f"{name.ljust(self.width)} | ".encode()

    def write(self, name: str, stream: str, line: bytes) -> None:
        target = self.stderr if stream == "stderr" else self.stdout
        target.write(self.prefix(name) + line)
        target.flush()

    def status(self, text: str) -> None:
        """compose writes `web-1 exited with code 0` to stdout, unprefixed."""
        self.stdout.write(text.encode() + b"\n")
        self.stdout.flush()


class Follower:
    """Prints the containers' log lines as they come, prefixed, in time order per poll."""

    def __init__(self, compose: Compose, containers: list[Container],
                 stdout: BinaryIO | None = None, stderr: BinaryIO | None = None,
                 announce_exit: bool = False) -> None:
        self.compose = compose
        self.printer = LogPrinter([display_name(c) for c in containers], stdout, stderr)
        self.tails = {c.id: (display_name(c), LogTail(compose.rt, c)) for c in containers}
        self.live = set(self.tails)
        self.announce_exit = announce_exit

    def step(self) -> None:
        batch: list[tuple[float, str, str, bytes]] = []
        ended = []
        for cid in sorted(self.live):
            name, tail = self.tails[cid]
            status = self.compose._status(cid)
            if status is None or status[0] in FINISHED:
                batch += [(t, name, s, line) for t, s, line in tail.read() + tail.flush()]
                ended.append((name, status))
                self.live.discard(cid)
            else:
                batch += [(t, name, s, line) for t, s, line in tail.read()]
        for _, name, stream, line in sorted(batch, key=lambda e: e[0]):
            self.printer.write(name, stream, line)
        if self.announce_exit:
            for name, status in ended:
                code = status[1] if status else None
                self.printer.status(f"{name} exited with code "
                                    f"{code if code is not None else 'unknown'}")

    def run(self, until_exit: bool = True, poll: float = POLL_S) -> None:
        """Until every container has ended (or, not until_exit, until Ctrl-C)."""
        while True:
            self.step()
            if until_exit and not self.live:
                return
            time.sleep(poll)


# ---- the project's verbs ---------------------------------------------------------------------

class Compose:
    def __init__(self, rt: Runtime, name: str, project: Project | None = None,
                 say: Callable[[str], None] = _stderr) -> None:
        self.rt = rt
        self.name = name
        self.project = project
        self.say = say

    def _need_project(self) -> Project:
        if self.project is None:
            raise ComposeError("no configuration file provided: not found")
        return self.project

    def containers(self, services: Iterable[str] | None = None) -> list[Container]:
        return project_containers(self.rt, self.name, services)

    # ---- up ----
    def up(self, *, detach: bool, build: bool = False, timeout: float | None = None,
           stdout: BinaryIO | None = None, stderr: BinaryIO | None = None) -> int:
        project = self._need_project()
        order = project.order()
        self._preflight(project)
        self._build(project, force=build)
        orphans = [c.name for c in self.containers() if service_of(c) not in project.services]
        if orphans:
            self.say(f"WARN Found orphan containers ({', '.join(orphans)}) for this project.")
        self._stop_and_remove(self.containers(project.services), timeout, anonymous=False)
        created = Created()
        try:
            self._make_networks(project, created)
            self._make_volumes(project, created)
            started = [self._start_service(project, project.services[name], created)
                       for name in order]
        except IsobenchError as e:
            self._rollback(created)
            raise ComposeError(str(e)) from None  # compose exits 1 for a failed up
        except BaseException:
            self._rollback(created)
            raise
        if detach:
            return 0
        return self._attach(started, timeout, stdout, stderr)

    def _preflight(self, project: Project) -> None:
        """Everything checkable without creating anything."""
        for name in project.order():
            s = project.services[name]
            where = f'service "{name}"'
            if s.build is None:
                try:
                    self.rt.image(s.image or "")
                except IsobenchError as e:
                    raise ComposeError(f"{where}: {e}") from None
            elif not s.build.context.is_dir():
                raise ComposeError(f"{where}: build context {s.build.context} is not a "
                                   "directory")
            try:
                for spec in mount_specs(project, s):
                    parse_volume_spec(spec)
                for spec in s.ports:
                    parse_publish(spec)
            except IsobenchError as e:
                raise ComposeError(f"{where}: {e}") from None
        for key in project.used_networks():
            name = project.network_name(key)
            try:
                net = self.rt.networks.get(name)
            except NotFound:
                continue
            owner = net.labels.get(LABEL_PROJECT, "")
            if owner != self.name:
                raise ComposeError(f"network {name} was found but has incorrect label "
                                   f'{LABEL_PROJECT} set to "{owner}"')

    def _build(self, project: Project, force: bool) -> None:
        # Imported here for start-up time: the builder and its Dockerfile parser cost
        # ~15 ms, which `down`, `ps` and `logs` never need.
        from runtime.image.builder import Builder

        for name in project.order():
            s = project.services[name]
            if s.build is None:
                continue
            tag = project.image_tag(name)
            if not force:
                try:
                    self.rt.images.get(tag)
                    continue
                except NotFound:
                    pass
            self.say(f" Building {name} -> {tag}")
            Builder(self.rt, out=self.say).build(s.build.context, s.build.dockerfile, tag,
                                                 build_args=s.build.args)

    def _make_networks(self, project: Project, created: Created) -> None:
        for key in project.used_networks():
            name = project.network_name(key)
            try:
                self.rt.networks.get(name)
                continue
            except NotFound:
                pass
            self.rt.networks.create(name, subnet=project.networks[key].subnet,
                                    labels={LABEL_PROJECT: self.name, LABEL_NETWORK: key})
            created.networks.append(name)
            self.say(f" Network {name}  Created")

    def _make_volumes(self, project: Project, created: Created) -> None:
        for key in project.used_volumes():
            name = project.volume_name(key)
            try:
                volume = self.rt.volumes.get(name)
                if volume.labels.get(LABEL_PROJECT) != self.name:
                    self.say(f'WARN volume "{name}" already exists but was not created for '
                             f'project "{self.name}"; using it')
                continue
            except NotFound:
                pass
            self.rt.volumes.create(name, labels={LABEL_PROJECT: self.name, LABEL_VOLUME: key})
            created.volumes.append(name)
            self.say(f' Volume "{name}"  Created')

    def _network(self, project: Project, s: Service) -> str:
        """The runtime's --network for the service: its project network, host, none, or the
        network namespace of another service's container (network_mode: service:NAME)."""
        mode = s.network_mode
        if mode is None:
            return project.network_name(s.networks[0])
        if mode.startswith("service:"):
            return f"container:{project.container_name(mode[len('service:'):])}"
        return mode

    def _start_service(self, project: Project, s: Service, created: Created) -> Container:
        self._wait_for_dependencies(project, s)
        labels = {**s.labels, LABEL_PROJECT: self.name, LABEL_SERVICE: s.name,
                  LABEL_NUMBER: "1", LABEL_WORKDIR: str(project.workdir)}
        if project.config_file:
            labels[LABEL_FILES] = str(project.config_file)
        named = s.network_mode is None
        c = self.rt.create(ContainerSpec(
            project.image_tag(s.name), s.command, name=project.container_name(s.name),
            env=s.environment, workdir=s.working_dir, hostname=s.hostname,
            entrypoint=s.entrypoint, network=self._network(project, s),
            volumes=mount_specs(project, s), publish=s.ports, labels=labels,
            aliases=[s.name] if named else [], security=s.security, limits=s.limits,
            restart=s.restart, healthcheck=s.healthcheck, init=s.init,
            stop_signal=s.stop_signal, stop_timeout=s.stop_grace_period, ulimits=s.ulimits,
            tmpfs=s.tmpfs, dns=s.dns, extra_hosts=s.extra_hosts))
        created.containers.append(c.id)
        self.say(f" Container {c.name}  Created")
        self.rt.start(c, attach=False)
        self.say(f" Container {c.name}  Started")
        return c

    # ---- depends_on conditions ----
    def _wait_for_dependencies(self, project: Project, s: Service) -> None:
        """Compose's conditions, in the order of the file: service_started (already so: the
        dependency was started first), service_healthy (its healthcheck says healthy; it
        being unhealthy or exiting fails the `up`), service_completed_successfully (it
        exited 0; another code fails the `up`). A dependency that is not `required` warns."""
        for dep, cond in s.dependencies.items():
            if cond.condition == "service_started":
                continue
            name = project.container_name(dep)
            self.say(f" Container {name}  Waiting")
            try:
                self._wait_condition(name, dep, cond.condition)
            except ComposeError as e:
                if cond.required:
                    raise
                self.say(f"WARN optional dependency {dep!r} failed: {e}")
                continue
            self.say(f" Container {name}  "
                     f"{'Healthy' if cond.condition == 'service_healthy' else 'Exited'}")

    def _wait_condition(self, name: str, service: str, condition: str) -> None:
        while True:
            try:
                c = self.rt.get(name)
            except NotFound:
                raise ComposeError(f"dependency failed to start: container {name} is gone"
                                   ) from None
            state = c.state
            if condition == "service_healthy":
                health = (state.health or {}).get("Status")
                if state.status == "running" and health == "healthy":
                    return
                if state.status == "running" and health == "unhealthy":
                    raise ComposeError(f"dependency failed to start: container {name} is "
                                       "unhealthy")
                if state.status in FINISHED:
                    raise ComposeError(f"dependency failed to start: container {name} exited "
                                       f"({state.exit_code})")
            elif state.status in FINISHED:  # service_completed_successfully
                if state.exit_code == 0:
                    return
                raise ComposeError(f'service "{service}" didn\'t complete successfully: exit '
                                   f"{state.exit_code}")
            time.sleep(POLL_S)

    def _rollback(self, created: Created) -> None:
        """Take back what this `up` made; secondary failures are told, not raised."""
        for cid in reversed(created.containers):
            try:
                self.rt.remove(cid, force=True, volumes=True)
            except NotFound:
                pass  # a failed start removes its own record
            except Exception as e:  # noqa: BLE001 - keep cleaning
                self.say(f"WARN cleanup: container {cid[:12]}: {e}")
        for name in reversed(created.networks):
            try:
                self.rt.remove_network(name)
            except Exception as e:  # noqa: BLE001
                self.say(f"WARN cleanup: network {name}: {e}")
        for name in reversed(created.volumes):
            try:
                self.rt.remove_volume(name)
            except Exception as e:  # noqa: BLE001
                self.say(f"WARN cleanup: volume {name}: {e}")

    def _attach(self, started: list[Container], timeout: float | None, stdout: BinaryIO | None,
                stderr: BinaryIO | None) -> int:
        """Follow until every container has ended. Ctrl-C stops them all (the logs go on
        until they have ended); a second Ctrl-C kills them."""
        self.say(f"Attaching to {', '.join(display_name(c) for c in started)}")
        follower = Follower(self, started, stdout, stderr, announce_exit=True)
        try:
            follower.run()
            return 0
        except KeyboardInterrupt:
            pass
        self.say("Gracefully stopping... (press Ctrl+C again to force)")
        ids = [c.id for c in started]
        stopper = threading.Thread(target=self._stop_all, args=(ids, timeout), daemon=True)
        stopper.start()
        try:
            follower.run()
            stopper.join()
        except KeyboardInterrupt:
            for cid in ids:
                try:
                    self.rt.kill(cid)
                except IsobenchError:
                    pass
        return 130

    def _status(self, cid: str) -> tuple[str, int | None] | None:
        try:
            c = self.rt.get(cid)
        except NotFound:
            return None
        return c.state.status, c.state.exit_code

    def logs(self, services: list[str] | None = None, *, follow: bool = False,
             stdout: BinaryIO | None = None, stderr: BinaryIO | None = None) -> int:
        found = self.containers(services)
        if follow:
            Follower(self, found, stdout, stderr).run(until_exit=False)
            return 0
        printer = LogPrinter([display_name(c) for c in found], stdout, stderr)
        entries = []
        for c in found:
            tail = LogTail(self.rt, c)
            entries += [(t, display_name(c), s, line) for t, s, line in tail.read() + tail.flush()]
        for _, name, stream, line in sorted(entries, key=lambda e: e[0]):
            printer.write(name, stream, line)
        return 0

    # ---- down ----
    def down(self, *, volumes: bool = False, timeout: float | None = None) -> int:
        """Stop and remove the project's containers, then its networks (and volumes with -v).
        Goes on past a failure and reports the first one at the end."""
        errors = self._stop_and_remove(self.containers(), timeout, anonymous=volumes)
        errors += self._remove_owned("Network", self.rt.networks.list(), self.rt.remove_network)
        if volumes:
            errors += self._remove_owned("Volume", self.rt.volumes.list(), self.rt.remove_volume)
        if errors:
            for e in errors[1:]:
                self.say(f"isobench: {e}")
            raise ComposeError(str(errors[0]))
        return 0

    def _remove_owned(self, kind: str, found: Iterable[Labelled],
                      remove: Callable[[str], None]) -> list[IsobenchError]:
        """Remove those of `found` labelled as this project's; failures are returned."""
        errors: list[IsobenchError] = []
        for item in found:
            if item.labels.get(LABEL_PROJECT) != self.name:
                continue
            try:
                remove(item.name)
                self.say(f" {kind} {item.name}  Removed")
            except IsobenchError as e:
                errors.append(e)
        return errors

    def _stop_all(self, ids: list[str], timeout: float | None) -> list[IsobenchError]:
        """Docker's stop for each, side by side: a PID 1 that ignores SIGTERM costs one
        timeout in all, not one per container. No timeout: each container's own
        (stop_grace_period, else 10 s)."""
        errors: list[IsobenchError] = []

        def stop(cid: str) -> None:
            try:
                self.rt.stop(cid, timeout=timeout)
            except NotFound:
                pass
            except IsobenchError as e:
                errors.append(e)

        threads = [threading.Thread(target=stop, args=(cid,), daemon=True) for cid in ids]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        return errors

    def _stop_and_remove(self, found: list[Container], timeout: float | None, anonymous: bool
                         ) -> list[IsobenchError]:
        running = [c for c in found if c.state.status in ACTIVE]
        errors = self._stop_all([c.id for c in running], timeout)
        for c in found:
            try:
                self.rt.remove(c.id, force=True, volumes=anonymous)
                self.say(f" Container {c.name}  Removed")
            except NotFound:
                pass
            except IsobenchError as e:
                errors.append(e)
        return errors


def iter_ports(c: Container) -> Iterator[str]:
    """Published ports as compose's ps shows them, while the container runs."""
    if c.state.status != "running":
        return
    for p in c.state.ports:
        yield f"{p['host_ip']}:{p['host_port']}->{p['container_port']}/{p.get('protocol', 'tcp')}"
