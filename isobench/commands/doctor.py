"""`isobench doctor`: what this host can do, and why not."""

from __future__ import annotations

import argparse
import json


def cmd_doctor(args: argparse.Namespace) -> int:
    # start-up time: vm.doctor loads libvirt's bindings (~16 ms); only `doctor` itself needs
    # them, not the full `isobench --help` that registers this module
    from vm.doctor import host_checks, state_checks, vm_checks

    checks = state_checks() + host_checks() + vm_checks(refresh=args.refresh)
    if args.json:
        print(json.dumps([c.__dict__ for c in checks], indent=1))
    else:
        width = max(len(c.name) for c in checks)
        for c in checks:
            mark = "ok  " if c.ok else ("FAIL" if c.needed_by else "no  ")
            needs = f"  [needed by: {c.needed_by}]" if not c.ok and c.needed_by else ""
            print(f"{mark} {c.name.ljust(width)}  {c.detail}{needs}")
    return 0 if all(c.ok or not c.needed_by for c in checks) else 1


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("doctor", help="what this host can do, and why not")
    p.add_argument("--refresh", action="store_true", help="probe KVM again")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_doctor)
