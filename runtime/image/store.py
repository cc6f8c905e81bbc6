"""The local image store under ISOBENCH_ROOT.

    layers/<hex>/diff      a layer's files (an overlayfs lower dir), named by its digest
    layers/<hex>/layer.json   size and digest
    images/<hex>.json      an image: its layers (bottom first) and its config
    images/repositories.json  NAME:TAG -> image id
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from runtime.errors import NotFound
from runtime.fsutil import read_json, write_json
from runtime.image.layers import tree_digest

DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def normalize_ref(ref: str) -> str:
    """`busybox` -> `busybox:latest`; a registry port (`host:5000/x`) is not a tag."""
    last = ref.rsplit("/", 1)[-1]
    return ref if ":" in last else f"{ref}:latest"


@dataclass
class ImageConfig:
    """The part of an OCI image config that `run` applies."""

    Env: list[str] = field(default_factory=lambda: [f"PATH={DEFAULT_PATH}"])
    Cmd: list[str] | None = None
    Entrypoint: list[str] | None = None
    WorkingDir: str = ""
    User: str = ""
    ExposedPorts: dict[str, dict] = field(default_factory=dict)
    Volumes: dict[str, dict] = field(default_factory=dict)
    Labels: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ImageConfig:
        known = {k: v for k, v in d.items() if k in cls.__dataclass_fields__}
        return cls(**known)


@dataclass
class Image:
    id: str                      # sha256:... of the canonical JSON of layers + config
    layers: list[str]            # layer digests, bottom first
    config: ImageConfig
    created: float = field(default_factory=time.time)
    history: list[dict[str, Any]] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)

    @staticmethod
    def compute_id(layers: list[str], config: ImageConfig) -> str:
        canon = json.dumps({"layers": layers, "config": asdict(config)}, sort_keys=True)
        return "sha256:" + hashlib.sha256(canon.encode()).hexdigest()

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d.pop("tags")
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Image:
        return cls(id=d["id"], layers=list(d["layers"]), config=ImageConfig.from_dict(d["config"]),
                   created=d.get("created", 0.0), history=d.get("history", []))


def _hex(digest: str) -> str:
    return digest.split(":", 1)[-1]


class ImageStore:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.layers_dir = root / "layers"
        self.images_dir = root / "images"
        self.repos_file = self.images_dir / "repositories.json"

    # --- locking: one writer at a time for the tag index and the layer dir ---
    @contextmanager
    def lock(self) -> Iterator[None]:
        self.images_dir.mkdir(parents=True, exist_ok=True)
        with open(self.images_dir / ".lock", "w") as f:
            fcntl.flock(f, fcntl.LOCK_EX)
            yield

    # --- layers ---
    def layer_path(self, digest: str) -> Path:
        return self.layers_dir / _hex(digest) / "diff"

    def has_layer(self, digest: str) -> bool:
        return (self.layers_dir / _hex(digest) / "layer.json").exists()

    def staging_dir(self) -> Path:
        """A fresh directory on the store's filesystem, so committing it is a rename."""
        self.layers_dir.mkdir(parents=True, exist_ok=True)
        return Path(tempfile.mkdtemp(prefix=".staging-", dir=self.layers_dir))

    def commit_layer(self, staged: Path, known: tuple[str, int] | None = None) -> str:
        """Move a staged layer tree into the store under its digest; returns the digest.

        `known` (digest, size) skips hashing a tree whose digest was computed before."""
        digest, size = known or tree_digest(staged)  # outside the lock: can take seconds
        final = self.layers_dir / _hex(digest)
        with self.lock():
            if self.has_layer(digest):
                shutil.rmtree(staged)
                return digest
            final.mkdir(parents=True, exist_ok=True)
            if (final / "diff").exists():  # a half-committed layer from a crash: never trusted
                shutil.rmtree(final / "diff")
            os.rename(staged, final / "diff")
            # layer.json last: its presence is what makes the layer trusted.
            write_json(final / "layer.json", {"digest": digest, "size": size})
        return digest

    # --- images ---
    def _repos(self) -> dict[str, str]:
        try:
            return read_json(self.repos_file)
        except FileNotFoundError:
            return {}

    def put(self, image: Image, tag: str | None = None) -> Image:
        for digest in image.layers:
            if not self.has_layer(digest):
                raise NotFound(f"layer {digest} is missing from the store")
        with self.lock():
            write_json(self.images_dir / f"{_hex(image.id)}.json", image.to_dict())
            if tag:
                repos = self._repos()
                repos[normalize_ref(tag)] = image.id
                write_json(self.repos_file, repos)
            image.tags = sorted(t for t, i in self._repos().items() if i == image.id)
        return image

    def get(self, ref: str) -> Image:
        """By NAME[:TAG], full id or a unique id prefix (as Docker)."""
        image_id = self._repos().get(normalize_ref(ref))
        if image_id is None:
            image_id = self._match_id(ref)
        if image_id is None:
            raise NotFound(f"Unable to find image '{normalize_ref(ref)}' locally", 125)
        image = Image.from_dict(read_json(self.images_dir / f"{_hex(image_id)}.json"))
        image.tags = sorted(t for t, i in self._repos().items() if i == image.id)
        return image

    def _match_id(self, ref: str) -> str | None:
        prefix = _hex(ref)
        if len(prefix) < 4 or not all(c in "0123456789abcdef" for c in prefix):
            return None
        hits = [p.stem for p in self.images_dir.glob(f"{prefix}*.json")]
        return f"sha256:{hits[0]}" if len(hits) == 1 else None

    def list(self) -> list[Image]:
        images = []
        for path in sorted(self.images_dir.glob("*.json")):
            if path.name != "repositories.json":
                images.append(self.get(f"sha256:{path.stem}"))
        return images

    def untag(self, ref: str) -> None:
        with self.lock():
            repos = self._repos()
            repos.pop(normalize_ref(ref), None)
            write_json(self.repos_file, repos)

    def delete(self, image: Image, keep_layers: set[str]) -> list[str]:
        """Drop the image and its tags, then every layer no image (nor `keep_layers`) uses.
        Returns the removed layer digests."""
        with self.lock():
            repos = {t: i for t, i in self._repos().items() if i != image.id}
            write_json(self.repos_file, repos)
            (self.images_dir / f"{_hex(image.id)}.json").unlink(missing_ok=True)
            used = set(keep_layers)
            for path in self.images_dir.glob("*.json"):
                if path.name != "repositories.json":
                    used.update(read_json(path).get("layers", []))
            removed = []
            for digest in image.layers:
                if digest not in used and self.has_layer(digest):
                    # layer.json first: a half-removed layer is never trusted
                    (self.layers_dir / _hex(digest) / "layer.json").unlink()
                    shutil.rmtree(self.layers_dir / _hex(digest), ignore_errors=True)
                    removed.append(digest)
        return removed

    def size_of_layer(self, digest: str) -> int:
        """The layer's size as a tar stream (its files plus headers); 0 if unknown."""
        try:
            return int(read_json(self.layers_dir / _hex(digest) / "layer.json")["size"])
        except (OSError, KeyError, ValueError):
            return 0

    def size(self, image: Image) -> int:
        return sum(self.size_of_layer(d) for d in image.layers)

    def lower_dirs(self, image: Image) -> list[str]:
        """Overlay lowerdir order: topmost layer first (an empty dir for a layerless image:
        overlayfs needs at least one lower)."""
        if not image.layers:
            empty = self.layers_dir / ".empty"
            empty.mkdir(parents=True, exist_ok=True)
            return [str(empty)]
        return [str(self.layer_path(d)) for d in reversed(image.layers)]
