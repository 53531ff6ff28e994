"""Image bytes in an S3 bucket (AWS or any S3-compatible store), behind the Storage protocol.

``s3://bucket/prefix`` keeps each key as the object ``prefix/<key>``, so blobs
and their derived files (``<sha>/w320.webp``) list and delete by prefix just
as the local store keeps them in one folder. A PUT on S3 is atomic (an object
appears whole or not at all), and content-addressed keys make a second put of
the same key a no-op; files go up with boto3's managed transfer, which streams
them from disk and switches to a multipart upload past a threshold, so a large
file is never held in memory, and an unfinished multipart upload is invisible
to readers (the bucket's lifecycle rule for incomplete uploads reclaims it).
Reads are ranged GETs whose body is streamed to the client. Every failure of
the endpoint (refused, timed out, denied, unknown bucket) becomes a
StorageError within seconds, thanks to short timeouts and few retries; a
missing object is a FileNotFoundError, as the protocol says. Endpoint comes
from ``FALCON_IMG_S3_ENDPOINT_URL``; credentials and region from boto3's usual
chain (``AWS_*`` variables, config files, instance roles).
"""

from __future__ import annotations

import contextlib
import io
import os
import threading
import typing
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import unquote, urlsplit

import boto3
import boto3.exceptions
import boto3.s3.transfer
import botocore.config
import botocore.exceptions

from .storage import KEY_PATTERN, StorageError, StorageURLError

#: Past this size a file goes up as a multipart upload, in parts of this size.
MULTIPART_BYTES = 8 * 1024 * 1024
#: Parts uploaded at once; each holds one part in memory while it is sent.
UPLOAD_THREADS = 4
#: Seconds to open a connection / to wait for bytes: a dead endpoint is an error quickly.
CONNECT_TIMEOUT = 3
READ_TIMEOUT = 10
#: Attempts per request, first one included.
MAX_ATTEMPTS = 3
#: Objects one DeleteObjects request may name (S3's limit).
DELETE_BATCH = 1000
#: Written and removed by check(); not a key, so keys() never lists it.
HEALTH_KEY = ".health-check"

_MISSING_CODES = {"404", "NoSuchKey", "NotFound"}

_ENDPOINT_ERRORS = (
    botocore.exceptions.BotoCoreError,
    botocore.exceptions.ClientError,
    boto3.exceptions.Boto3Error,
)


def _error_code(exc: BaseException) -> str:
    if isinstance(exc, botocore.exceptions.ClientError):
        return str(exc.response.get("Error", {}).get("Code", ""))
    return ""


class S3Storage:
    """Blobs as objects ``<prefix>/<key>`` in one bucket."""

    def __init__(self, bucket: str, prefix: str = "", endpoint_url: str | None = None) -> None:
        if not bucket:
            raise StorageURLError("an s3:// storage URL needs a bucket: s3://bucket/prefix")
        self.bucket = bucket
        self.prefix = "/".join(part for part in prefix.split("/") if part)
        self.endpoint_url = endpoint_url or None
        self.transfer_config = boto3.s3.transfer.TransferConfig(
            multipart_threshold=MULTIPART_BYTES,
            multipart_chunksize=MULTIPART_BYTES,
            max_concurrency=UPLOAD_THREADS,
        )
        self._lock = threading.Lock()
        # Made now so that a malformed endpoint fails at start, not on the first request.
        self._client = self._make_client()
        self._client_pid = os.getpid()

    @classmethod
    def from_url(cls, url: str, endpoint_url: str | None = None) -> S3Storage:
        parts = urlsplit(url)
        if parts.scheme != "s3":
            raise StorageURLError(f"not an s3:// URL: {url!r}")
        return cls(parts.netloc, unquote(parts.path), endpoint_url)

    def __repr__(self) -> str:
        where = f" at {self.endpoint_url}" if self.endpoint_url else ""
        return f"S3Storage(s3://{self.bucket}/{self.prefix}{where})"

    # -- the connection ---------------------------------------------------

    @property
    def client(self) -> typing.Any:
        """One boto3 client per process: a client made before a fork (Gunicorn's
        preload) would share its pooled connections with every worker."""
        pid = os.getpid()
        if self._client_pid != pid:
            with self._lock:
                if self._client_pid != pid:
                    self._client = self._make_client()
                    self._client_pid = pid
        return self._client

    def _make_client(self) -> typing.Any:
        options: dict[str, typing.Any] = {
            "connect_timeout": CONNECT_TIMEOUT,
            "read_timeout": READ_TIMEOUT,
            "retries": {"max_attempts": MAX_ATTEMPTS, "mode": "standard"},
        }
        if self.endpoint_url:
            # S3-compatible servers (MinIO, Ceph, moto, ...) are addressed by path,
            # and many refuse the checksum trailers boto3 sends AWS by default.
            options["s3"] = {"addressing_style": "path"}
            options["request_checksum_calculation"] = "when_required"
            options["response_checksum_validation"] = "when_required"
        try:
            # A session of our own: boto3's default session is not thread-safe.
            return boto3.session.Session().client(
                "s3", endpoint_url=self.endpoint_url, config=botocore.config.Config(**options)
            )
        except ValueError as exc:
            raise StorageURLError(f"unusable S3 endpoint {self.endpoint_url!r}: {exc}") from exc
        except _ENDPOINT_ERRORS as exc:
            raise StorageError(f"cannot set up S3 access to {self.bucket}: {exc}") from exc

    @contextlib.contextmanager
    def _failures(self, doing: str, key: str = "") -> Iterator[None]:
        """Turn whatever boto3 raises into the protocol's errors."""
        try:
            yield
        except _ENDPOINT_ERRORS as exc:
            if key and _error_code(exc) in _MISSING_CODES:
                raise FileNotFoundError(f"no object {self.object_key(key)} in bucket {self.bucket}") from exc
            raise StorageError(f"cannot {doing} in s3://{self.bucket}/{self.prefix}: {exc}") from exc

    def object_key(self, key: str) -> str:
        if not KEY_PATTERN.fullmatch(key):
            raise ValueError(f"not a storage key: {key!r}")
        return f"{self.prefix}/{key}" if self.prefix else key

    @property
    def _list_prefix(self) -> str:
        return f"{self.prefix}/" if self.prefix else ""

    # -- the protocol -----------------------------------------------------

    def put(self, key: str, source: Path) -> None:
        if self.exists(key):
            return
        with self._failures(f"store {key}"):
            self.client.upload_file(
                str(source), self.bucket, self.object_key(key), Config=self.transfer_config
            )

    def exists(self, key: str) -> bool:
        try:
            self.size(key)
        except FileNotFoundError:
            return False
        return True

    def size(self, key: str) -> int:
        with self._failures(f"read the size of {key}", key):
            head = self.client.head_object(Bucket=self.bucket, Key=self.object_key(key))
        return int(head["ContentLength"])

    def open(self, key: str, start: int = 0, length: int | None = None) -> typing.BinaryIO:
        name = self.object_key(key)
        request: dict[str, str] = {"Bucket": self.bucket, "Key": name}
        if length is not None:
            if length <= 0:
                self.size(key)  # still FileNotFoundError for a missing key
                return typing.cast(typing.BinaryIO, io.BytesIO())
            request["Range"] = f"bytes={start}-{start + length - 1}"
        elif start:
            request["Range"] = f"bytes={start}-"
        try:
            with self._failures(f"read {key}", key):
                response = self.client.get_object(**request)
        except StorageError as exc:
            if _error_code(exc.__cause__) == "InvalidRange":
                # A window starting at or past the end: nothing to read, as with a file.
                return typing.cast(typing.BinaryIO, io.BytesIO())
            raise
        return typing.cast(typing.BinaryIO, ObjectStream(response["Body"], f"{self.bucket}/{name}"))

    def delete(self, key: str) -> None:
        name = self.object_key(key)
        with self._failures(f"delete {key}"):
            if "/" not in key:
                # Derived files first: an interrupted delete leaves the blob itself,
                # which the consistency check finds and removes again.
                self._delete_under(name + "/")
            self.client.delete_object(Bucket=self.bucket, Key=name)

    def _delete_under(self, prefix: str) -> None:
        batch: list[dict[str, str]] = []
        for name in self._object_names(prefix):
            batch.append({"Key": name})
            if len(batch) == DELETE_BATCH:
                self._delete_batch(batch)
                batch = []
        if batch:
            self._delete_batch(batch)

    def _delete_batch(self, batch: list[dict[str, str]]) -> None:
        answer = self.client.delete_objects(Bucket=self.bucket, Delete={"Objects": batch, "Quiet": True})
        failed = answer.get("Errors") or []
        if failed:
            first = failed[0]
            raise StorageError(
                f"cannot delete {len(failed)} objects in {self.bucket}, "
                f"e.g. {first.get('Key')}: {first.get('Code')} {first.get('Message')}"
            )

    def _object_names(self, prefix: str) -> Iterator[str]:
        pages = self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix)
        for page in pages:
            for entry in page.get("Contents", ()):
                yield entry["Key"]

    def keys(self) -> Iterator[str]:
        start = len(self._list_prefix)
        with self._failures("list keys"):
            for name in self._object_names(self._list_prefix):
                key = name[start:]
                # Other objects may share the bucket (and the health key is ours): skip them.
                if KEY_PATTERN.fullmatch(key):
                    yield key

    def stale_temp_files(self, older_than: float = 3600) -> list[Path]:
        """Always empty: S3 has no temp files (an unfinished multipart upload is invisible)."""
        return []

    def check(self) -> None:
        health = self._list_prefix + HEALTH_KEY
        with self._failures("read and write"):
            self.client.list_objects_v2(Bucket=self.bucket, Prefix=self._list_prefix, MaxKeys=1)
            self.client.put_object(Bucket=self.bucket, Key=health, Body=b"ok")
            self.client.delete_object(Bucket=self.bucket, Key=health)


class ObjectStream(io.RawIOBase):
    """The body of a GET, readable in pieces for a WSGI server to copy out.

    It has no file descriptor on purpose: the body's own ``fileno()`` would be
    the HTTP socket, and a server would try to sendfile() from it. ``close()``
    drops the connection if the body was not read to its end, so the unread
    rest of the object never reaches the next request on that connection.
    """

    def __init__(self, body: typing.Any, name: str) -> None:
        super().__init__()
        self._body = body
        self._name = name

    def readable(self) -> bool:
        return True

    def read(self, size: int | None = -1) -> bytes:
        try:
            return self._body.read(None if size is None or size < 0 else size)
        except _ENDPOINT_ERRORS as exc:
            raise StorageError(f"reading {self._name} failed: {exc}") from exc

    def readall(self) -> bytes:
        return self.read(-1)

    def readinto(self, buffer: typing.Any) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def close(self) -> None:
        if not self.closed:
            self._body.close()
        super().close()
