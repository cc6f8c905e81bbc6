"""The local image store under ISOBENCH_ROOT.

    layers/<hex>/diff      a layer's files (an overlayfs lower dir), named by its digest
    layers/<hex>/layer.json   size and digest
    images/<hex>.json      an image: its layers (bottom first) and its config
    images/repositories.json  NAME:TAG -> image id
    images/pins/<token>    a lease: layers and images a build or import relies on

Concurrency: every change of the tag index, of images/ and of layers/ happens under one
flock (images/.lock). A build or import holds a pin (an flock'd file listing what it uses)
from the moment it resolves its base until its image is written, and `delete` keeps what a
live pin names, so an `rmi` racing a build never leaves the build's image without layers.
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import shutil
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from runtime.errors import Conflict, NotFound
from runtime.fsutil import CorruptState, locked, read_json, sha256_hex, warn_corrupt, write_json
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
        return "sha256:" + sha256_hex(canon.encode())

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


class Pin:
    """A lease on images and layers (containerd's leases, in one flock'd file).

    The file is flock'd for the pin's whole life, so a pin whose holder died (SIGKILL)
    is recognised by anyone who can take the lock, and dropped. Its content changes only
    under the store lock, which is also the only place it is read."""

    def __init__(self, store: ImageStore, path: Path, fd: int) -> None:
        self.store = store
        self.path = path
        self.fd = fd
        self.images: set[str] = set()
        self.layers: set[str] = set()

    def _write(self) -> None:
        data = json.dumps({"images": sorted(self.images), "layers": sorted(self.layers),
                           "pid": os.getpid()}).encode()
        os.ftruncate(self.fd, 0)
        os.pwrite(self.fd, data, 0)

    def hold(self, image: Image) -> bool:
        """Pin a stored image and its layers; False if it was removed meanwhile."""
        with self.store.lock():
            if not all(self.store.has_layer(d) for d in image.layers):
                return False
            if not image.id.startswith("build:") and image.id != "scratch":
                if not self.store.image_file(image.id).exists():
                    return False
                self.images.add(image.id)
            self.layers.update(image.layers)
            self._write()
        return True

    def hold_layers(self, digests: list[str]) -> bool:
        """Pin layers (a build-cache hit); False if one of them is gone."""
        with self.store.lock():
            if not all(self.store.has_layer(d) for d in digests):
                return False
            self.layers.update(digests)
            self._write()
        return True

    def _add_locked(self, digest: str) -> None:
        self.layers.add(digest)
        self._write()


class ImageStore:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.layers_dir = root / "layers"
        self.images_dir = root / "images"
        self.pins_dir = self.images_dir / "pins"
        self.repos_file = self.images_dir / "repositories.json"

    # --- locking: one writer at a time for the tag index, images and the layer dir ---
    @contextmanager
    def lock(self) -> Iterator[None]:
        with locked(self.images_dir / ".lock"):
            yield

    @contextmanager
    def pinned(self) -> Iterator[Pin]:
        """A pin for the block: what it holds is not deleted until the block ends."""
        self.pins_dir.mkdir(parents=True, exist_ok=True)
        token = os.urandom(8).hex()  # = secrets.token_hex(8), see ContainerStore
        # Locked under a hidden name, then renamed: nobody can see it unlocked (and drop
        # it as a dead holder's).
        tmp = self.pins_dir / f".{token}"
        fd = os.open(tmp, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            os.rename(tmp, self.pins_dir / token)
            pin = Pin(self, self.pins_dir / token, fd)
            try:
                yield pin
            finally:
                with self.lock():
                    (self.pins_dir / token).unlink(missing_ok=True)
        finally:
            os.close(fd)
            tmp.unlink(missing_ok=True)

    def _live_pins(self) -> list[dict[str, Any]]:
        """Under the lock: the content of every pin whose holder is alive; dead ones go."""
        found = []
        if not self.pins_dir.is_dir():
            return found
        for path in self.pins_dir.iterdir():
            if path.name.startswith("."):
                continue
            try:
                fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
            except FileNotFoundError:
                continue
            try:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except OSError as e:
                    if e.errno not in (errno.EWOULDBLOCK, errno.EAGAIN):
                        raise
                    data = os.pread(fd, 1 << 20, 0)
                    try:
                        found.append(json.loads(data) if data else {})
                    except ValueError:
                        found.append({})
                else:
                    path.unlink(missing_ok=True)  # its holder is gone
            finally:
                os.close(fd)
        return found

    def pinned_by(self, image_id: str) -> list[int]:
        """The pids of live builds or imports that rely on `image_id`."""
        with self.lock():
            return [int(p.get("pid", 0)) for p in self._live_pins()
                    if image_id in p.get("images", [])]

    # --- layers ---
    def layer_path(self, digest: str) -> Path:
        return self.layers_dir / _hex(digest) / "diff"

    def has_layer(self, digest: str) -> bool:
        return (self.layers_dir / _hex(digest) / "layer.json").exists()

    def has_layers(self, digests: list[str]) -> bool:
        """All present, as of one instant (under the lock, so no delete is half-way)."""
        with self.lock():
            return all(self.has_layer(d) for d in digests)

    def staging_dir(self) -> Path:
        """A fresh directory on the store's filesystem, so committing it is a rename."""
        import tempfile  # builds and imports only: ~1.3 ms of every `run`'s imports

        self.layers_dir.mkdir(parents=True, exist_ok=True)
        return Path(tempfile.mkdtemp(prefix=".staging-", dir=self.layers_dir))

    def commit_layer(self, staged: Path, known: tuple[str, int] | None = None,
                     pin: Pin | None = None) -> str:
        """Move a staged layer tree into the store under its digest; returns the digest.

        `known` (digest, size) skips hashing a tree whose digest was computed before.
        `pin`: the layer is pinned in the same locked step, so no `rmi` can take it before
        the image that uses it is written."""
        digest, size = known or tree_digest(staged)  # outside the lock: can take seconds
        final = self.layers_dir / _hex(digest)
        with self.lock():
            if pin is not None:
                pin._add_locked(digest)
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
    def image_file(self, image_id: str) -> Path:
        return self.images_dir / f"{_hex(image_id)}.json"

    def _repos(self) -> dict[str, str]:
        try:
            repos = read_json(self.repos_file)
            if not isinstance(repos, dict):
                raise ValueError("not a JSON object")
            return repos
        except FileNotFoundError:
            return {}
        except ValueError as e:  # a corrupt tag index: the images are still there, untagged
            warn_corrupt(self.repos_file, e)
            return {}

    def put(self, image: Image, tag: str | None = None) -> Image:
        with self.lock():
            # Checked under the lock: a concurrent delete cannot slip in between.
            for digest in image.layers:
                if not self.has_layer(digest):
                    raise NotFound(f"layer {digest} is missing from the store")
            write_json(self.image_file(image.id), image.to_dict())
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
        image = self._load(image_id, ref)
        image.tags = sorted(t for t, i in self._repos().items() if i == image.id)
        return image

    def _load(self, image_id: str, ref: str) -> Image:
        path = self.image_file(image_id)
        try:
            return Image.from_dict(read_json(path))
        except FileNotFoundError:  # a dangling tag, or removed a moment ago
            raise NotFound(f"Unable to find image '{normalize_ref(ref)}' locally", 125) from None
        except (ValueError, KeyError, TypeError, AttributeError) as e:
            raise CorruptState(path, f"image {ref}", e) from None

    def _match_id(self, ref: str) -> str | None:
        prefix = _hex(ref)
        if len(prefix) < 4 or not all(c in "0123456789abcdef" for c in prefix):
            return None
        hits = [p.stem for p in self.images_dir.glob(f"{prefix}*.json")]
        return f"sha256:{hits[0]}" if len(hits) == 1 else None

    def _image_files(self) -> list[Path]:
        return [p for p in sorted(self.images_dir.glob("*.json"))
                if p.name != "repositories.json"]

    def list(self) -> list[Image]:
        """Every readable image; a corrupt one is reported on stderr and skipped."""
        images = []
        tags: dict[str, list[str]] = {}
        for tag, image_id in self._repos().items():
            tags.setdefault(image_id, []).append(tag)
        for path in self._image_files():
            try:
                image = self._load(f"sha256:{path.stem}", path.stem[:12])
            except NotFound:
                continue  # removed while we listed
            except CorruptState as e:
                warn_corrupt(path, e)
                continue
            image.tags = sorted(tags.get(image.id, []))
            images.append(image)
        return images

    def untag(self, ref: str) -> None:
        with self.lock():
            repos = self._repos()
            repos.pop(normalize_ref(ref), None)
            write_json(self.repos_file, repos)

    def delete(self, image: Image, keep_layers: set[str] | Callable[[], set[str]] = frozenset(),
               force: bool = False) -> list[str]:
        """Drop the image and its tags, then every layer that no image, no live pin and no
        `keep_layers` uses (a callable is asked under the lock: the containers of this
        moment). Refused while a build or import relies on the image, unless `force`.
        Returns the removed layer digests."""
        with self.lock():
            pins = self._live_pins()
            holders = [int(p.get("pid", 0)) for p in pins if image.id in p.get("images", [])]
            if holders and not force:
                raise Conflict(f"conflict: unable to delete {_hex(image.id)[:12]} (must force) "
                               f"- image is being used by a build or import (pid {holders[0]})",
                               1)
            repos = {t: i for t, i in self._repos().items() if i != image.id}
            write_json(self.repos_file, repos)
            self.image_file(image.id).unlink(missing_ok=True)
            used = set(keep_layers() if callable(keep_layers) else keep_layers)
            for pin in pins:
                used.update(pin.get("layers", []))
            for path in self._image_files():
                try:
                    used.update(read_json(path).get("layers", []))
                except FileNotFoundError:
                    continue
                except (ValueError, AttributeError) as e:
                    # Its layers are unknown: removing none is the only safe choice.
                    warn_corrupt(path, e)
                    return []
            removed = []
            for digest in image.layers:
                if digest not in used and self.has_layer(digest):
                    # layer.json first: a half-removed layer is never trusted
                    (self.layers_dir / _hex(digest) / "layer.json").unlink()
                    shutil.rmtree(self.layers_dir / _hex(digest), ignore_errors=True)
                    removed.append(digest)
        return removed

    # --- verification ---
    def verify(self) -> list[str]:
        """Check the whole store: every image file parses and its id is the digest of its
        content, every layer it names is present and hashes to its digest, every tag
        points at an image. Returns one line per problem (empty: the store verifies).
        Under the lock, so nothing changes while the trees are hashed."""
        problems: list[str] = []
        checked: dict[str, bool] = {}
        with self.lock():
            for tag, image_id in sorted(self._repos().items()):
                if not self.image_file(image_id).exists():
                    problems.append(f"tag {tag}: image {image_id} does not exist")
            for path in self._image_files():
                try:
                    image = Image.from_dict(read_json(path))
                except (OSError, ValueError, KeyError, TypeError, AttributeError) as e:
                    problems.append(f"{path}: corrupt image file: {e}")
                    continue
                short = path.stem[:12]
                if image.id != f"sha256:{path.stem}":
                    problems.append(f"image {short}: file names {path.stem}, content says "
                                    f"{image.id}")
                if Image.compute_id(image.layers, image.config) != image.id:
                    problems.append(f"image {short}: id does not match its layers and config")
                for digest in image.layers:
                    if digest not in checked:
                        checked[digest] = self._verify_layer(digest, problems)
                    if not checked[digest]:
                        problems.append(f"image {short}: layer {digest} is missing or corrupt")
        return problems

    def _verify_layer(self, digest: str, problems: list[str]) -> bool:
        if not self.has_layer(digest):
            problems.append(f"layer {digest}: missing")
            return False
        try:
            recorded = read_json(self.layers_dir / _hex(digest) / "layer.json")["digest"]
        except (OSError, ValueError, KeyError, TypeError) as e:
            problems.append(f"layer {digest}: corrupt layer.json: {e}")
            return False
        if recorded != digest:
            problems.append(f"layer {digest}: layer.json says {recorded}")
            return False
        actual, _ = tree_digest(self.layer_path(digest))
        if actual != digest:
            problems.append(f"layer {digest}: content hashes to {actual}")
            return False
        return True

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
