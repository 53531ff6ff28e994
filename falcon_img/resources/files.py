"""Image bytes: ``GET``/``HEAD /file/{file_name}`` with caching, ranges and sendfile."""

from __future__ import annotations

import re

import falcon

from .. import models
from ..errors import APIError
from ..settings import Settings
from ..storage import Storage, StorageError

_SINGLE_RANGE = re.compile(r"bytes=(\d*)-(\d*)")
UNSATISFIABLE = "unsatisfiable"


def requested_range(header: str | None, size: int):
    """``(start, end)`` for a single satisfiable byte range, UNSATISFIABLE, or None.

    None means "send the whole file": no Range, a malformed one, or several
    ranges (which RFC 9110 lets a server answer with the full representation).
    """
    if not header:
        return None
    match = _SINGLE_RANGE.fullmatch(header.strip())
    if not match or match.group(1) == match.group(2) == "":
        return None
    first, last = match.groups()
    if first == "":
        suffix = int(last)
        if suffix == 0 or size == 0:
            return UNSATISFIABLE
        return (max(0, size - suffix), size - 1)
    start = int(first)
    end = int(last) if last else size - 1
    if end < start:
        return None
    if start >= size:
        return UNSATISFIABLE
    return (start, min(end, size - 1))


def _etag_matches(candidates, etag: str) -> bool:
    return any(candidate == "*" or str(candidate) == etag for candidate in candidates or ())


class FileDownload:
    def __init__(self, storage: Storage, settings: Settings) -> None:
        self.storage = storage
        self.settings = settings

    def on_get(self, req: falcon.Request, resp: falcon.Response, file_name: str) -> None:
        self._answer(req, resp, file_name, send_body=True)

    def on_head(self, req: falcon.Request, resp: falcon.Response, file_name: str) -> None:
        self._answer(req, resp, file_name, send_body=False)

    def _answer(self, req: falcon.Request, resp: falcon.Response, file_name: str, send_body: bool) -> None:
        try:
            image = models.image_by_name(file_name)
        except models.Image.DoesNotExist:
            raise falcon.HTTPNotFound(description="There is no image with this file name.") from None
        blob = image.blob
        self._describe(req, resp, image.name, blob.content_type, blob.sha256, image.created_at)
        if self._not_modified(req, resp, blob.sha256, image.created_at):
            return
        size = blob.size
        wanted = requested_range(req.get_header("Range"), size)
        if wanted is not None and not self._if_range_holds(req, blob.sha256):
            wanted = None
        if wanted == UNSATISFIABLE:
            raise APIError(
                falcon.HTTP_416,
                message=f"The requested range is outside the file's {size} bytes.",
                headers={"Content-Range": f"bytes */{size}"},
            )
        start, end = wanted if wanted else (0, size - 1)
        length = end - start + 1
        if wanted:
            resp.status = falcon.HTTP_206
            resp.content_range = (start, end, size)
        if not send_body:
            resp.content_length = length
            return
        try:
            stream = self.storage.open(blob.sha256, start, length)
        except FileNotFoundError as exc:
            raise StorageError(f"blob {blob.sha256} of image {image.id} is missing") from exc
        # A real file object: Gunicorn hands it to sendfile() via wsgi.file_wrapper.
        resp.set_stream(stream, length)

    def _describe(self, req, resp, name, content_type, etag, modified) -> None:
        resp.content_type = content_type
        resp.etag = etag
        resp.last_modified = modified
        resp.cache_control = [f"public, max-age={self.settings.file_cache_seconds}"]
        resp.accept_ranges = "bytes"
        resp.set_header("X-Content-Type-Options", "nosniff")
        if req.get_param_as_bool("download", default=False, blank_as_true=True):
            resp.downloadable_as = name
        else:
            resp.viewable_as = name

    @staticmethod
    def _not_modified(req: falcon.Request, resp: falcon.Response, etag: str, modified) -> bool:
        if req.get_header("If-None-Match") is not None:
            matched = _etag_matches(req.if_none_match, etag)
        else:
            since = req.if_modified_since
            matched = since is not None and modified.replace(microsecond=0) <= since
        if matched:
            resp.status = falcon.HTTP_304
        return matched

    @staticmethod
    def _if_range_holds(req: falcon.Request, etag: str) -> bool:
        condition = req.get_header("If-Range")
        return condition is None or condition.strip() == f'"{etag}"'
