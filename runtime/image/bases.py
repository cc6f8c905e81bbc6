"""An image by name, the built-in bases included: `busybox` and `debian:<suite>` are made
on first use (from the host's busybox-static, by debootstrap), as Docker pulls a missing one.
Both the runtime and the VM driver look images up here."""

from __future__ import annotations

from runtime.errors import NotFound
from runtime.image.busybox import BUSYBOX_REF, ensure_busybox
from runtime.image.store import Image, ImageStore, normalize_ref


def get_image(store: ImageStore, ref: str) -> Image:
    name = normalize_ref(ref)
    if name == BUSYBOX_REF:
        return ensure_busybox(store)
    try:
        return store.get(ref)
    except NotFound:
        if name.startswith("debian:"):
            # start-up time: debootstrap's module (subprocess, ...) only for this base
            from runtime.image.debian import ensure_debian

            return ensure_debian(store, name.partition(":")[2])
        raise
