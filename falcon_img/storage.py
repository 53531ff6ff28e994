"""Where image bytes live: a small Storage protocol and its local-folder form.

Keys are made by the server (sha256 hex digests, optionally with a suffix for
derived files); no client string ever becomes a path. Writes are atomic: the
bytes go to a temporary name inside the store and are renamed into place, so
a reader sees a whole file or none, whatever happens to the writer.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
import time
import typing
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import unquote, urlsplit

#: A key is lowercase hex, optionally followed by "/<suffix>" of safe characters.
KEY_PATTERN = re.compile(r"[0-9a-f]{64}(/[0-9a-z_.-]{1,64})?")
TEMP_DIR_NAME = ".tmp"


class StorageError(Exception):
    """The store cannot be read or written (disk gone, bucket unreachable)."""


class StorageURLError(ValueError):
    """FALCON_IMG_STORAGE_URL names a store this service cannot use."""


class Storage(typing.Protocol):
    def put(self, key: str, source: Path) -> None:
        """Store the file at ``source`` under ``key``; a no-op when ``key`` exists."""

    def exists(self, key: str) -> bool: ...

    def size(self, key: str) -> int:
        """Byte size of ``key``; raises FileNotFoundError when it is missing."""

    def open(self, key: str, start: int = 0, length: int | None = None) -> typing.BinaryIO:
        """A readable file of ``key`` positioned at ``start``, good for at least
        ``length`` bytes (all when None); raises FileNotFoundError when missing.
        A local store returns a real file so servers can sendfile() it."""

    def delete(self, key: str) -> None:
        """Remove ``key`` and every key under ``key/``; missing keys are fine."""

    def keys(self) -> Iterator[str]:
        """Every stored key (for consistency checks)."""

    def check(self) -> None:
        """Raise StorageError unless the store can be read and written."""

    def stale_temp_files(self, older_than: float = 3600) -> list[Path]:
        """Temporary files older than ``older_than`` seconds that a killed writer left."""


class LocalStorage:
    """Blobs in a folder, sharded as ``ab/cd/abcd…``; temp files in ``.tmp``."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.temp_dir = self.root / TEMP_DIR_NAME

    def ensure(self) -> None:
        self.temp_dir.mkdir(parents=True, exist_ok=True)

    def path(self, key: str) -> Path:
        if not KEY_PATTERN.fullmatch(key):
            raise ValueError(f"not a storage key: {key!r}")
        digest, _, suffix = key.partition("/")
        base = self.root / digest[:2] / digest[2:4] / digest
        return base.with_name(digest + ".d") / suffix if suffix else base

    def put(self, key: str, source: Path) -> None:
        target = self.path(key)
        if target.exists():
            return
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            self.ensure()
            temp = self.temp_dir / f"{uuid.uuid4().hex}.part"
            try:
                try:
                    # Same filesystem: a hard link is instant and leaves the
                    # source in place for the caller to reuse or remove.
                    os.link(source, temp)
                except OSError:
                    shutil.copyfile(source, temp)
                    _fsync(temp)
                os.replace(temp, target)
            finally:
                temp.unlink(missing_ok=True)
        except OSError as exc:
            raise StorageError(f"cannot store {key}: {exc}") from exc

    def exists(self, key: str) -> bool:
        return self.path(key).is_file()

    def size(self, key: str) -> int:
        return self.path(key).stat().st_size

    def open(self, key: str, start: int = 0, length: int | None = None) -> typing.BinaryIO:
        stream = open(self.path(key), "rb")
        if start:
            stream.seek(start)
        return FileWindow(stream, length) if length is not None else stream

    def delete(self, key: str) -> None:
        path = self.path(key)
        try:
            path.unlink(missing_ok=True)
            derived = path.with_name(path.name + ".d")
            if "/" not in key and derived.is_dir():
                shutil.rmtree(derived, ignore_errors=True)
        except OSError as exc:
            raise StorageError(f"cannot delete {key}: {exc}") from exc

    def keys(self) -> Iterator[str]:
        for shard in sorted(self.root.glob("[0-9a-f][0-9a-f]/[0-9a-f][0-9a-f]")):
            for entry in sorted(shard.iterdir()):
                if entry.is_file() and KEY_PATTERN.fullmatch(entry.name):
                    yield entry.name
                elif entry.is_dir() and entry.name.endswith(".d"):
                    for derived in sorted(entry.iterdir()):
                        yield f"{entry.name[:-2]}/{derived.name}"

    def stale_temp_files(self, older_than: float = 3600) -> list[Path]:
        """Temp files a killed writer left behind (never served: they have no key)."""
        if not self.temp_dir.is_dir():
            return []
        cutoff = time.time() - older_than
        return [p for p in self.temp_dir.iterdir() if p.stat().st_mtime <= cutoff]

    def check(self) -> None:
        try:
            self.ensure()
            with tempfile.NamedTemporaryFile(dir=self.temp_dir, prefix="health-"):
                pass
        except OSError as exc:
            raise StorageError(f"storage at {self.root} is not writable: {exc}") from exc


class FileWindow:
    """``length`` bytes of an open file from its current position.

    ``read()`` stops at the end of the window, for servers that copy through
    Python; ``fileno()`` and the position let Gunicorn sendfile() the same
    window straight from the kernel (it sends Content-Length bytes from the
    current offset).
    """

    mode = "rb"

    def __init__(self, file: typing.BinaryIO, length: int) -> None:
        self._file = file
        self._remaining = length

    def read(self, size: int = -1) -> bytes:
        if self._remaining <= 0:
            return b""
        wanted = self._remaining if size is None or size < 0 else min(size, self._remaining)
        data = self._file.read(wanted)
        self._remaining -= len(data)
        return data

    def fileno(self) -> int:
        return self._file.fileno()

    def tell(self) -> int:
        return self._file.tell()

    def seek(self, offset: int, whence: int = 0) -> int:
        return self._file.seek(offset, whence)

    def close(self) -> None:
        self._file.close()


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def open_storage(url: str, settings: typing.Any = None) -> Storage:
    """The Storage a FALCON_IMG_STORAGE_URL names."""
    parts = urlsplit(url)
    if parts.scheme == "file":
        return LocalStorage(Path(unquote(parts.netloc + parts.path)))
    if parts.scheme == "":
        return LocalStorage(Path(url))
    if parts.scheme == "s3":
        # Imported here: boto3 is needed only by deployments that use S3.
        from .s3storage import S3Storage

        return S3Storage.from_url(url, endpoint_url=getattr(settings, "s3_endpoint_url", "") or None)
    raise StorageURLError(f"unsupported storage URL scheme {parts.scheme!r}: use file:// or s3://")
