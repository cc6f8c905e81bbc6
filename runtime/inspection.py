"""`inspect`'s document: a container's record and cgroup in the shape and key names of
Docker's `docker inspect`."""

from __future__ import annotations

import signal
from typing import Any

from runtime.cgroups import Cgroup
from runtime.containers import Container
from runtime.options import RestartPolicy, parse_tmpfs
from runtime.ports import PortMapping


def inspect_dict(c: Container, cg: Cgroup) -> dict[str, Any]:
    """Docker's `inspect` keys for `c`; its cgroup's paths from `cg`."""
    running = c.state.status == "running"
    return {
        "Id": c.id, "Name": f"/{c.name}", "Created": c.created,
        "Image": c.config.image, "ImageId": c.config.image_id,
        "State": {
            "Status": c.state.status, "Running": running,
            "Pid": c.state.pid if running else 0, "ExitCode": c.state.exit_code,
            "OOMKilled": c.state.oom_killed, "Error": c.state.error,
            "StartedAt": c.state.started_at, "FinishedAt": c.state.finished_at,
            "Restarting": c.state.status == "restarting",
            **({"Health": c.state.health} if c.state.health else {}),
        },
        "RestartCount": c.state.restart_count,
        "Config": {"Cmd": c.config.argv, "Env": c.config.env, "WorkingDir": c.config.workdir,
                   "User": c.config.user, "Hostname": c.config.hostname,
                   "Labels": c.config.labels,
                   "StopSignal": signal.Signals(c.config.stop_signal).name,
                   "StopTimeout": c.config.stop_timeout,
                   **({"Healthcheck": c.config.healthcheck} if c.config.healthcheck
                      else {})},
        "HostConfig": {"Limits": c.config.limits, "NetworkMode": c.config.network,
                       "AutoRemove": c.config.auto_remove,
                       "ReadonlyRootfs": c.config.readonly_rootfs,
                       "Privileged": c.config.privileged,
                       "CapAdd": c.config.cap_add or None,
                       "CapDrop": c.config.cap_drop or None,
                       "SecurityOpt": c.config.security_opt or None,
                       "RestartPolicy": RestartPolicy.from_dict(
                           c.config.restart_policy).to_dict(),
                       "Init": c.config.init,
                       "Ulimits": [{"Name": n, "Soft": lo, "Hard": hi}
                                   for n, lo, hi in c.config.ulimits] or None,
                       "Tmpfs": dict(parse_tmpfs(t) for t in c.config.tmpfs) or None,
                       "Dns": c.config.dns or None,
                       "ExtraHosts": c.config.extra_hosts or None},
        "Cgroup": {"Name": c.cgroup, "Paths": cg.paths()},
        "Namespaces": c.state.namespaces if running else {},
        "NetworkSettings": {"Network": c.config.network, "IPAddress": c.state.ip,
                            "Ports": [str(PortMapping(**p)) for p in c.state.ports]},
        "Mounts": c.mounts + [{"Type": m["kind"], "Source": m["source"],
                               "Destination": m["target"], "RW": not m["readonly"]}
                              for m in c.config.mounts],
        "Labels": c.config.labels,
        "Stats": c.state.stats,
    }
