"""`volume` and `network` verbs."""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict

from isobench.commands.common import each
from runtime.api import Runtime


def cmd_volume_create(args: argparse.Namespace) -> int:
    print(Runtime().volumes.create(args.name).name)
    return 0


def cmd_volume_ls(args: argparse.Namespace) -> int:
    volumes = Runtime().volumes.list()
    if args.quiet:
        print("\n".join(v.name for v in volumes))
        return 0
    print("DRIVER    VOLUME NAME")
    for v in volumes:
        print(f"local     {v.name}")
    return 0


def cmd_volume_rm(args: argparse.Namespace) -> int:
    rt = Runtime()
    return each(args.names, rt.remove_volume)


def cmd_volume_inspect(args: argparse.Namespace) -> int:
    rt = Runtime()
    print(json.dumps([rt.volumes.get(n).to_dict() for n in args.names], indent=4))
    return 0


def cmd_network_create(args: argparse.Namespace) -> int:
    print(Runtime().networks.create(args.name, subnet=args.subnet, internal=args.internal).id)
    return 0


def cmd_network_ls(args: argparse.Namespace) -> int:
    nets = Runtime().networks.list()
    print(f"{'NETWORK ID':<14}{'NAME':<24}{'SUBNET':<18}BRIDGE")
    for n in nets:
        print(f"{n.id[:12]:<14}{n.name:<24}{n.subnet:<18}{n.bridge}")
    return 0


def cmd_network_rm(args: argparse.Namespace) -> int:
    rt = Runtime()
    return each(args.names, rt.remove_network)


def cmd_network_inspect(args: argparse.Namespace) -> int:
    rt = Runtime()
    out = []
    for name in args.names:
        net = rt.networks.get(name)
        d = net.to_dict()
        d["endpoints"] = {cid: asdict(ep) for cid, ep in net.endpoints.items()}
        out.append(d)
    print(json.dumps(out, indent=4))
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    vol = sub.add_parser("volume", help="manage volumes").add_subparsers(
        dest="volume_verb", metavar="COMMAND", parser_class=type(sub._parser_class()))
    p = vol.add_parser("create")
    p.add_argument("name", nargs="?")
    p.set_defaults(handler=cmd_volume_create)
    p = vol.add_parser("ls")
    p.add_argument("-q", "--quiet", action="store_true")
    p.set_defaults(handler=cmd_volume_ls)
    p = vol.add_parser("rm")
    p.add_argument("names", nargs="+")
    p.set_defaults(handler=cmd_volume_rm)
    p = vol.add_parser("inspect")
    p.add_argument("names", nargs="+")
    p.set_defaults(handler=cmd_volume_inspect)

    net = sub.add_parser("network", help="manage networks").add_subparsers(
        dest="network_verb", metavar="COMMAND", parser_class=type(sub._parser_class()))
    p = net.add_parser("create")
    p.add_argument("--subnet")
    p.add_argument("--internal", action="store_true",
                   help="no route out of the network: members reach only each other")
    p.add_argument("name")
    p.set_defaults(handler=cmd_network_create)
    p = net.add_parser("ls")
    p.set_defaults(handler=cmd_network_ls)
    p = net.add_parser("rm")
    p.add_argument("names", nargs="+")
    p.set_defaults(handler=cmd_network_rm)
    p = net.add_parser("inspect")
    p.add_argument("names", nargs="+")
    p.set_defaults(handler=cmd_network_inspect)
