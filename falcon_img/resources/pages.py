"""The web pages: the gallery at ``/`` and the interactive API docs at ``/docs``, with their files.

Every file served here comes from a directory shipped with the code (the
package's ``static/`` directory, and Swagger UI's distribution from the
``swagger-ui-bundle-v2`` package). Each directory is read once per process into
an allow-list of regular files with a known content type; a request names an
entry of that list or gets a 404, so no client string ever becomes a path.

Pages refer to their files by URLs that carry a hash of the file
(``/static/gallery.js?v=…``), so a browser may keep such a file for a year and
still never run a stale one after an upgrade; the pages themselves are
sent afresh on every visit. Text files are also kept gzipped for clients that
accept it (Swagger UI's script is 1.5 MB as it is, about a quarter of that gzipped).
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import falcon
from swagger_ui_bundle import swagger_ui_path

STATIC_DIR = Path(__file__).resolve().parent.parent / "static"
SWAGGER_UI_DIR = Path(str(swagger_ui_path))
#: What the docs page needs from Swagger UI's distribution; nothing else of it is served.
SWAGGER_UI_FILES = ("swagger-ui-bundle.js", "swagger-ui.css")

CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/x-icon",
    ".webmanifest": "application/manifest+json",
}
#: Smaller files gain too little from gzip to be worth a second copy.
GZIP_MIN_BYTES = 1024
#: For a URL whose ``v`` matches the file's hash: the content behind it never changes.
IMMUTABLE = "public, max-age=31536000, immutable"
#: For pages, and for files asked for without the current hash: check with the server at every use.
REVALIDATE = "no-cache"

#: ``src="/static/name"`` or ``href="/docs/name"`` in a page: a reference to version.
_REFERENCE = re.compile(r'(?P<attr>\b(?:src|href)=")(?P<prefix>/static|/docs)/(?P<name>[A-Za-z0-9._-]+)"')


@dataclass(frozen=True)
class Asset:
    """One file as it is sent: its bytes, their type, and a hash naming this content."""

    body: bytes
    content_type: str
    version: str
    gzipped: bytes | None = None

    @classmethod
    def of(cls, body: bytes, content_type: str) -> Asset:
        compressible = content_type.startswith(("text/", "image/svg", "application/manifest"))
        gzipped = gzip.compress(body, compresslevel=9, mtime=0) if compressible and len(body) >= GZIP_MIN_BYTES else None
        return cls(body, content_type, hashlib.sha256(body).hexdigest()[:20], gzipped)


@functools.cache
def read_directory(directory: Path, names: tuple[str, ...] | None = None) -> dict[str, Asset]:
    """The allow-list of ``directory``: its regular files (not links, not subdirectories)
    with a known content type, or only ``names`` of them; read once per process."""
    found: dict[str, Asset] = {}
    for path in sorted(directory.iterdir()):
        if names is not None and path.name not in names:
            continue
        content_type = CONTENT_TYPES.get(path.suffix.lower())
        if content_type is None or path.is_symlink() or not path.is_file():
            continue
        found[path.name] = Asset.of(path.read_bytes(), content_type)
    missing = set(names or ()) - set(found)
    if missing:
        raise RuntimeError(f"files missing from {directory}: {', '.join(sorted(missing))}")
    return found


class AssetDirectory:
    """The files of one directory, served under ``url_prefix`` (e.g. ``/static``)."""

    def __init__(self, url_prefix: str, directory: Path, names: Iterable[str] | None = None,
                 exclude_suffixes: Iterable[str] = ()) -> None:
        self.url_prefix = url_prefix
        excluded = tuple(exclude_suffixes)
        self.assets = {
            name: asset
            for name, asset in read_directory(Path(directory), tuple(names) if names is not None else None).items()
            if not name.endswith(excluded)
        }

    def url(self, name: str) -> str:
        """The versioned URL of a file; a KeyError for a name that is not served."""
        return f"{self.url_prefix}/{name}?v={self.assets[name].version}"


def render_page(path: Path, directories: Iterable[AssetDirectory]) -> Asset:
    """A page with every reference to a served file replaced by its versioned URL.

    A reference to a file that is not served fails here, when the app is built,
    rather than as a broken page in a browser.
    """
    by_prefix = {directory.url_prefix: directory for directory in directories}

    def versioned(match: re.Match) -> str:
        directory = by_prefix[match["prefix"]]
        if match["name"] not in directory.assets:
            raise RuntimeError(f"{path.name} refers to {match['prefix']}/{match['name']}, which is not served")
        return f'{match["attr"]}{directory.url(match["name"])}"'

    html = _REFERENCE.sub(versioned, path.read_text(encoding="utf-8"))
    return Asset.of(html.encode("utf-8"), CONTENT_TYPES[".html"])


def accepts_gzip(accept_encoding: str | None) -> bool:
    """Whether an Accept-Encoding header takes gzip (``gzip;q=0`` refuses it)."""
    for offer in (accept_encoding or "").lower().split(","):
        coding, _, params = offer.strip().partition(";")
        if coding.strip() in ("gzip", "*"):
            quality = params.strip().removeprefix("q=")
            try:
                return not params or float(quality) > 0
            except ValueError:
                return False
    return False


def send(req: falcon.Request, resp: falcon.Response, asset: Asset, cache_control: str, *,
         conditional: bool = True) -> None:
    """``asset`` with its caching headers; with ``conditional``, a 304 when the client's copy is current."""
    use_gzip = asset.gzipped is not None and accepts_gzip(req.get_header("Accept-Encoding"))
    resp.cache_control = [cache_control]
    if asset.gzipped is not None:
        resp.vary = ["Accept-Encoding"]
    if conditional:
        etag = asset.version + ("-gz" if use_gzip else "")
        resp.etag = etag
        if any(str(candidate) in ("*", etag) for candidate in req.if_none_match or ()):
            resp.status = falcon.HTTP_304
            return
    resp.content_type = asset.content_type
    if use_gzip:
        resp.set_header("Content-Encoding", "gzip")
        resp.data = asset.gzipped
    else:
        resp.data = asset.body


class _Page:
    uses_database = False

    def __init__(self, page: Asset) -> None:
        self.page = page

    def _send(self, req: falcon.Request, resp: falcon.Response) -> None:
        # Never a 304: a browser would take the 304's headers into its copy, and the
        # middleware gives a body-less answer the API's Content-Security-Policy.
        send(req, resp, self.page, REVALIDATE, conditional=False)


class Gallery(_Page):
    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        """The gallery: a web page to browse, upload, view and comment on images.
        ---
        tags: [pages]
        responses:
          200:
            description: The gallery's HTML page (it runs on this API).
            content:
              text/html:
                schema: {type: string}
        """
        self._send(req, resp)

    def on_head(self, req: falcon.Request, resp: falcon.Response) -> None:
        """The headers a GET of the page would send, without the body.
        ---
        tags: [pages]
        responses:
          200: {description: The page's headers.}
        """
        self._send(req, resp)


class ApiDocs(_Page):
    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        """Interactive API docs (Swagger UI) for this document, served by the app itself.
        ---
        tags: [pages]
        responses:
          200:
            description: The docs' HTML page; "Try it out" sends requests to this server.
            content:
              text/html:
                schema: {type: string}
        """
        self._send(req, resp)

    def on_head(self, req: falcon.Request, resp: falcon.Response) -> None:
        """The headers a GET of the page would send, without the body.
        ---
        tags: [pages]
        responses:
          200: {description: The page's headers.}
        """
        self._send(req, resp)


class _Files:
    uses_database = False

    def __init__(self, directory: AssetDirectory) -> None:
        self.directory = directory

    def _send(self, req: falcon.Request, resp: falcon.Response, name: str) -> None:
        asset = self.directory.assets.get(name)
        if asset is None:
            raise falcon.HTTPNotFound(description="There is no such file.")
        current = req.get_param("v") == asset.version
        send(req, resp, asset, IMMUTABLE if current else REVALIDATE)


class StaticFile(_Files):
    def on_get(self, req: falcon.Request, resp: falcon.Response, name: str) -> None:
        """A file of the gallery or the docs page: script, styles, icon.
        ---
        tags: [pages]
        parameters:
          - {in: query, name: v, schema: {type: string}, description: 'The hash the pages put in the URL; with the current one, the file may be cached for a year.'}
        responses:
          200:
            description: The file.
            content:
              text/javascript: {schema: {type: string}}
              text/css: {schema: {type: string}}
              image/svg+xml: {schema: {type: string}}
          304: {description: The client's copy is current.}
          404: {$ref: '#/components/responses/NotFound'}
        """
        self._send(req, resp, name)

    def on_head(self, req: falcon.Request, resp: falcon.Response, name: str) -> None:
        """The headers a GET of the file would send, without the body.
        ---
        tags: [pages]
        responses:
          200: {description: The file's headers.}
          304: {description: The client's copy is current.}
          404: {$ref: '#/components/responses/NotFound'}
        """
        self._send(req, resp, name)


class DocsFile(_Files):
    def on_get(self, req: falcon.Request, resp: falcon.Response, name: str) -> None:
        """A file of Swagger UI, which the docs page runs.
        ---
        tags: [pages]
        parameters:
          - {in: query, name: v, schema: {type: string}, description: 'The hash the docs page puts in the URL; with the current one, the file may be cached for a year.'}
        responses:
          200:
            description: The file.
            content:
              text/javascript: {schema: {type: string}}
              text/css: {schema: {type: string}}
          304: {description: The client's copy is current.}
          404: {$ref: '#/components/responses/NotFound'}
        """
        self._send(req, resp, name)

    def on_head(self, req: falcon.Request, resp: falcon.Response, name: str) -> None:
        """The headers a GET of the file would send, without the body.
        ---
        tags: [pages]
        responses:
          200: {description: The file's headers.}
          304: {description: The client's copy is current.}
          404: {$ref: '#/components/responses/NotFound'}
        """
        self._send(req, resp, name)


def page_routes() -> list[tuple[str, object]]:
    """The pages and their files, as ``(URI template, resource)`` entries of the app's route table."""
    # The pages are served at their own routes, not as files.
    static = AssetDirectory("/static", STATIC_DIR, exclude_suffixes=(".html",))
    swagger_ui = AssetDirectory("/docs", SWAGGER_UI_DIR, SWAGGER_UI_FILES)
    return [
        ("/", Gallery(render_page(STATIC_DIR / "index.html", [static]))),
        ("/static/{name}", StaticFile(static)),
        ("/docs", ApiDocs(render_page(STATIC_DIR / "docs.html", [static, swagger_ui]))),
        ("/docs/{name}", DocsFile(swagger_ui)),
    ]
