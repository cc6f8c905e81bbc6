"""The built-in `busybox` image, made from the host's busybox-static.

A static binary needs nothing else, so one layer holds the whole image: the
binary, one symlink per applet, and the few files a process expects (/etc/passwd,
/tmp, the mount points).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from runtime.errors import NotFound
from runtime.image.store import Image, ImageConfig, ImageStore

BUSYBOX_CANDIDATES = ("/bin/busybox", "/usr/bin/busybox")
BUSYBOX_REF = "busybox:latest"

PASSWD = "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/home:/bin/false\n"
GROUP = "root:x:0:\nnobody:x:65534:\n"


def find_busybox() -> str:
    for path in BUSYBOX_CANDIDATES:
        if os.path.isfile(path) and os.access(path, os.X_OK):
            return path
    raise NotFound("busybox not found on this host (apt-get install busybox-static)", 125)


def populate(root: Path, busybox: str) -> None:
    """Lay out a busybox root filesystem in the (empty) directory `root`."""
    import subprocess  # start-up time: only when the image is made

    for d in ("bin", "sbin", "usr/bin", "usr/sbin", "etc", "root", "home", "var",
              "proc", "sys", "dev"):
        (root / d).mkdir(parents=True, exist_ok=True)
    (root / "tmp").mkdir(mode=0o1777)
    os.chmod(root / "tmp", 0o1777)
    shutil.copy2(busybox, root / "bin/busybox")
    applets = subprocess.run([busybox, "--list-full"], capture_output=True, text=True,
                             check=True).stdout.split()
    for applet in applets:
        link = root / applet
        if link.name == "busybox" or link.exists() or link.is_symlink():
            continue
        depth = len(Path(applet).parts) - 1
        link.symlink_to("../" * depth + "bin/busybox")
    (root / "etc/passwd").write_text(PASSWD)
    (root / "etc/group").write_text(GROUP)
    os.chmod(root, 0o755)


def ensure_busybox(store: ImageStore) -> Image:
    """The built-in image, made once per store (the digest is the same on every host
    with the same busybox binary)."""
    try:
        return store.get(BUSYBOX_REF)
    except NotFound:
        pass
    with store.pinned() as pin:  # an rmi racing us cannot take the layer before put()
        staged = store.staging_dir()
        try:
            populate(staged, find_busybox())
            digest = store.commit_layer(staged, pin=pin)
        except BaseException:
            shutil.rmtree(staged, ignore_errors=True)
            raise
        config = ImageConfig(Cmd=["sh"])
        image = Image(id=Image.compute_id([digest], config), layers=[digest], config=config,
                      history=[{"created_by": f"isobench: built-in busybox from "
                                              f"{find_busybox()}"}])
        return store.put(image, BUSYBOX_REF)
