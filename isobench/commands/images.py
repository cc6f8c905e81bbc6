"""Image verbs: build, images, rmi, import, image history (and `history IMAGE`)."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from isobench.commands.common import print_formatted, print_table, template
from runtime.api import Runtime
from runtime.errors import InvalidArgument, IsobenchError, NotFound
from runtime.image.store import normalize_ref


def _human(size: float) -> str:
    for unit in ("B", "kB", "MB", "GB"):
        if size < 1000 or unit == "GB":
            return f"{size:.0f}{unit}" if unit == "B" else f"{size:.3g}{unit}"
        size /= 1000
    return f"{size}"


def _ago(ts: float) -> str:
    secs = max(0, int(time.time() - ts))
    for unit, size in (("days", 86400), ("hours", 3600), ("minutes", 60)):
        if secs >= size:
            return f"{secs // size} {unit} ago"
    return f"{secs} seconds ago"




def cmd_build(args: argparse.Namespace) -> int:
    # start-up time: the builder and its Dockerfile parser (~16 ms) serve `build` alone
    from contextlib import nullcontext

    from isobench.buildview import TtyBuild, build_progress
    from runtime.image.builder import Builder

    build_args = {}
    for item in args.build_arg:
        key, sep, value = item.partition("=")
        if not sep:
            raise InvalidArgument(f"invalid --build-arg {item!r}: expected KEY=VALUE")
        build_args[key] = value
    progress = build_progress("quiet" if args.quiet else args.progress)
    with progress if isinstance(progress, TtyBuild) else nullcontext():
        result = Builder(Runtime(), progress=progress).build(
            Path(args.context), Path(args.file) if args.file else None, args.tag,
            no_cache=args.no_cache, build_args=build_args)
    if args.quiet:
        print(result.image.id)
    return 0


IMAGES_TITLES = {"ID": "IMAGE ID", "Repository": "REPOSITORY", "Tag": "TAG",
                 "Digest": "DIGEST", "CreatedSince": "CREATED", "CreatedAt": "CREATED AT",
                 "Size": "SIZE"}


def cmd_images(args: argparse.Namespace) -> int:
    tmpl = template(args.format, fields=IMAGES_TITLES, context="ImageContext") \
        if args.format else None
    rt = Runtime()
    if args.verify:
        return _verify(rt)
    images = rt.images.list()
    if args.quiet:
        for image in images:
            print(image.id.split(":")[1][:12])
        return 0
    rows = []
    for image in images:
        short = image.id.split(":")[1][:12]
        for tag in image.tags or ["<none>:<none>"]:
            repo, _, name = tag.rpartition(":")
            rows.append({"ID": short, "Repository": repo, "Tag": name, "Digest": "<none>",
                         "CreatedSince": _ago(image.created),
                         "CreatedAt": time.strftime("%Y-%m-%d %H:%M:%S +0000 UTC",
                                                    time.gmtime(image.created)),
                         "Size": _human(rt.images.size(image))})
    if tmpl is not None:
        print_formatted(tmpl, rows, IMAGES_TITLES)
        return 0
    keys = ("Repository", "Tag", "ID", "CreatedSince", "Size")
    print_table([tuple(IMAGES_TITLES[k] for k in keys),
                 *(tuple(r[k] for k in keys) for r in rows)])
    return 0


def _verify(rt: Runtime) -> int:
    """`images --verify`: every layer re-hashed against its digest, every image id against
    its content. Exit 1 with one line per mismatch, as `fsck` would."""
    problems = rt.images.verify()
    for line in problems:
        print(f"isobench: {line}", file=sys.stderr)
    if problems:
        return 1
    print(f"{len(rt.images.list())} images verified")
    return 0


def _no_such_image(ref: str) -> NotFound:
    """Docker's rmi and history say this, with 1 (run's "Unable to find" is 125)."""
    return NotFound(f"No such image: {normalize_ref(ref)}", 1)


def cmd_rmi(args: argparse.Namespace) -> int:
    """Each image in turn, as Docker: a failure is reported and the rest still go."""
    rt = Runtime()
    code = 0
    for ref in args.images:
        try:
            try:
                lines = rt.remove_image(ref, force=args.force)
            except NotFound:
                raise _no_such_image(ref) from None
        except IsobenchError as e:
            print(f"isobench: {e}", file=sys.stderr)
            code = e.exit_code
            continue
        for line in lines:
            print(line)
    return code


def cmd_import(args: argparse.Namespace) -> int:
    # start-up time: the archive reader (~4 ms) serves `import` alone
    from runtime.image.importer import import_archive

    image = import_archive(Runtime().images, Path(args.archive), args.name)
    print(image.id)
    return 0


def cmd_history(args: argparse.Namespace) -> int:
    try:
        image = Runtime().image(args.image)
    except NotFound:
        raise _no_such_image(args.image) from None
    rows = [("IMAGE", "CREATED BY", "LAYER")]
    for entry in reversed(image.history):
        created_by = entry.get("created_by", "")
        if not args.no_trunc and len(created_by) > 60:
            created_by = created_by[:59] + "…"
        rows.append(("<missing>", created_by, "0B" if entry.get("empty_layer") else "layer"))
    print_table(rows)
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("build", help="build an image from a Dockerfile")
    p.add_argument("-t", "--tag")
    p.add_argument("-f", "--file")
    p.add_argument("--no-cache", action="store_true")
    p.add_argument("--build-arg", action="append", default=[], metavar="K=V")
    p.add_argument("-q", "--quiet", action="store_true",
                   help="show nothing but the image ID (as --progress quiet)")
    p.add_argument("--progress", choices=["auto", "plain", "tty", "quiet"], default="auto",
                   help="how steps show on stderr, as BuildKit: tty (a live view), plain "
                        "(every step and output line, #N-prefixed), quiet; auto: tty on a "
                        "terminal, plain otherwise")
    p.add_argument("context")
    p.set_defaults(handler=cmd_build)

    p = sub.add_parser("images", help="list images")
    p.add_argument("-q", "--quiet", action="store_true")
    p.add_argument("--verify", action="store_true",
                   help="check that every layer and image matches its digest")
    p.add_argument("--format", help="Go template, e.g. 'table {{.Repository}}\\t{{.Size}}'")
    p.set_defaults(handler=cmd_images)

    p = sub.add_parser("rmi", help="remove images")
    p.add_argument("-f", "--force", action="store_true")
    p.add_argument("images", nargs="+")
    p.set_defaults(handler=cmd_rmi)

    p = sub.add_parser("import", help="import a docker-save or OCI image-layout archive")
    p.add_argument("archive")
    p.add_argument("name")
    p.set_defaults(handler=cmd_import)

    # Docker's management command; `isobench history IMAGE` comes here too (commands/history)
    p = sub.add_parser("image", help="manage images: image history IMAGE")
    verbs = p.add_subparsers(dest="image_verb", metavar="SUBCOMMAND", required=True)
    p = verbs.add_parser("history", help="show an image's history")
    p.add_argument("--no-trunc", action="store_true")
    p.add_argument("image")
    p.set_defaults(handler=cmd_history)
