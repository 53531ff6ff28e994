"""The web pages and their files: content types, security headers, caching, and an allow-list.

The gallery (``/``) and the API docs (``/docs``) are HTML under the page
Content-Security-Policy, with no inline script or style. Their files are
served from allow-lists read when the app is built: versioned URLs are cached
for a year, anything else is revalidated, and no request reaches a file that
is not on a list.
"""

from __future__ import annotations

import gzip
import html.parser
import os
import socket
from pathlib import Path

import falcon
import falcon.testing
import pytest
from swagger_ui_bundle import swagger_ui_path

from falcon_img.app import create_app
from falcon_img.middleware import PAGE_CSP
from falcon_img.resources.pages import (
    IMMUTABLE, REVALIDATE, STATIC_DIR, AssetDirectory, StaticFile, render_page,
)
from falcon_img.settings import Settings

PAGES = ["/", "/docs"]


class PageParser(html.parser.HTMLParser):
    """What a page loads and anything in it that would run or style inline."""

    def __init__(self) -> None:
        super().__init__()
        self.references: list[str] = []
        self.inline: list[str] = []

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        for name in attributes:
            if name == "style" or name.startswith("on"):
                self.inline.append(f"<{tag} {name}=...>")
        if tag == "script" and "src" not in attributes:
            self.inline.append("<script> without src")
        if tag == "style":
            self.inline.append("<style>")
        if tag in ("script", "img") and attributes.get("src"):
            self.references.append(attributes["src"])
        if tag == "link" and attributes.get("href"):
            self.references.append(attributes["href"])


def parse(page_html: str) -> PageParser:
    parser = PageParser()
    parser.feed(page_html)
    return parser


def local_files(page_html: str) -> set[str]:
    return {url for url in parse(page_html).references if url.startswith(("/static/", "/docs/"))}


# -- the pages ---------------------------------------------------------------

@pytest.mark.parametrize("path", PAGES)
def test_page_is_html_under_the_page_security_policy(client, path):
    result = client.simulate_get(path)
    assert result.status_code == 200
    assert result.headers["content-type"] == "text/html; charset=utf-8"
    assert result.headers["content-security-policy"] == PAGE_CSP
    assert result.headers["x-content-type-options"] == "nosniff"
    assert result.headers["x-frame-options"] == "DENY"
    # A page is always revalidated, so a new release is seen at once.
    assert result.headers["cache-control"] == REVALIDATE
    assert "<!doctype html>" in result.text.lower()


@pytest.mark.parametrize("path", PAGES)
def test_page_is_sent_whole_with_its_policy_even_to_a_conditional_request(client, path):
    # A 304 would carry the API's policy (it has no HTML body), and browsers copy a 304's headers.
    result = client.simulate_get(path, headers={"If-None-Match": "*"})
    assert result.status_code == 200
    assert result.headers["content-security-policy"] == PAGE_CSP


@pytest.mark.parametrize("path", PAGES)
def test_page_runs_no_inline_script_or_style(client, path):
    assert parse(client.simulate_get(path).text).inline == []


def test_gallery_page_loads_its_script_styles_and_icon(client):
    files = {url.split("?")[0] for url in local_files(client.simulate_get("/").text)}
    assert files == {"/static/gallery.js", "/static/gallery.css", "/static/icon.svg"}


def test_docs_page_runs_swagger_ui_from_this_server_on_this_api_document(client):
    page = client.simulate_get("/docs").text
    files = {url.split("?")[0] for url in local_files(page)}
    assert {"/docs/swagger-ui-bundle.js", "/docs/swagger-ui.css", "/static/docs.js"} <= files
    # Nothing from another host: the docs work without internet.
    assert not [url for url in parse(page).references if "//" in url]
    initializer = client.simulate_get("/static/docs.js").text
    assert "url: '/api/v1.0/openapi.json'" in initializer
    assert "validatorUrl: null" in initializer


def test_swagger_ui_is_served_from_the_installed_package(client):
    served = client.simulate_get("/docs/swagger-ui-bundle.js")
    assert served.status_code == 200
    assert served.content == (Path(str(swagger_ui_path)) / "swagger-ui-bundle.js").read_bytes()


@pytest.mark.parametrize("path", PAGES)
def test_every_file_a_page_refers_to_is_served_with_its_type_and_cached_for_a_year(client, path):
    expected_types = {
        ".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8", ".svg": "image/svg+xml",
    }
    for url in local_files(client.simulate_get(path).text):
        file_path, _, query = url.partition("?")
        assert query.startswith("v="), url
        result = client.simulate_get(file_path, query_string=query)
        assert result.status_code == 200, url
        assert result.headers["content-type"] == expected_types[Path(file_path).suffix], url
        assert result.headers["cache-control"] == IMMUTABLE, url
        assert result.headers["x-content-type-options"] == "nosniff"
        assert result.headers["etag"]


def test_a_file_asked_for_without_its_current_version_is_revalidated(client):
    for query in (None, "v=0000"):
        result = client.simulate_get("/static/gallery.js", query_string=query)
        assert result.status_code == 200
        assert result.headers["cache-control"] == REVALIDATE


@pytest.mark.parametrize("path", ["/static/gallery.css", "/static/icon.svg", "/docs/swagger-ui.css"])
def test_if_none_match_with_a_files_current_etag_is_a_304_without_a_body(client, path):
    etag = client.simulate_get(path).headers["etag"]
    result = client.simulate_get(path, headers={"If-None-Match": etag})
    assert result.status_code == 304
    assert result.content == b""
    assert result.headers["etag"] == etag
    assert client.simulate_get(path, headers={"If-None-Match": '"another"'}).status_code == 200


def test_text_files_go_gzipped_to_clients_that_accept_it(client):
    plain = client.simulate_get("/docs/swagger-ui-bundle.js")
    packed = client.simulate_get("/docs/swagger-ui-bundle.js", headers={"Accept-Encoding": "gzip, deflate, br"})
    assert "content-encoding" not in plain.headers
    assert packed.headers["content-encoding"] == "gzip"
    assert packed.headers["vary"] == "Accept-Encoding"
    assert len(packed.content) < len(plain.content) / 2
    assert gzip.decompress(packed.content) == plain.content
    # Different bytes, different strong ETags.
    assert packed.headers["etag"] != plain.headers["etag"]


def test_gzip_is_not_sent_to_clients_that_refuse_or_do_not_name_it(client):
    for header in ("gzip;q=0", "br", "identity", "deflate, gzip; q=0"):
        result = client.simulate_get("/static/gallery.js", headers={"Accept-Encoding": header})
        assert "content-encoding" not in result.headers, header
        assert result.content == (STATIC_DIR / "gallery.js").read_bytes()
    assert client.simulate_get("/static/gallery.js", headers={"Accept-Encoding": "gzip;q=0.5"}).headers["content-encoding"] == "gzip"


@pytest.mark.parametrize("path", PAGES + ["/static/gallery.js", "/docs/swagger-ui.css"])
def test_head_answers_the_headers_of_a_get_without_the_body(client, path):
    got = client.simulate_get(path)
    head = client.simulate_head(path)
    assert head.status_code == 200
    assert head.content == b""
    for name in ("content-type", "content-length", "cache-control", "content-security-policy"):
        assert head.headers[name] == got.headers[name], name
    assert head.headers.get("etag") == got.headers.get("etag")


# -- what is not served --------------------------------------------------------

@pytest.mark.parametrize("path", [
    "/static/nothing.js",
    "/static/index.html",  # pages are served at their routes, not as files
    "/static/docs.html",
    "/docs/index.html",  # Swagger UI's own files that the docs page does not use
    "/docs/swagger-initializer.js",
    "/docs/swagger-ui-bundle.js.map",
    "/docs/favicon-32x32.png",
    "/static",
])
def test_a_file_that_is_not_on_the_list_is_a_json_404(client, path):
    result = client.simulate_get(path)
    assert result.status_code == 404
    assert result.headers["content-type"].startswith("application/json")
    assert result.json["message"]


@pytest.mark.parametrize("path", [
    "/static/../app.py",
    "/static/..",
    "/static/%2e%2e",
    "/static/%2e%2e%2fapp.py",
    "/static/..%2f..%2fpyproject.toml",
    "/static/%2e%2e/%2e%2e/pyproject.toml",
    "/static/%2Fetc%2Fpasswd",
    "/static//etc/passwd",
    "/static/%5c..%5capp.py",
    "/static/....//app.py",
    "/static/gallery.js%00.py",
    "/docs/..%2f__init__.py",
    "/docs/%2e%2e%2f%2e%2e%2f__init__.py",
])
def test_the_file_routes_never_leave_their_directory(client, path):
    result = client.simulate_get(path)
    assert result.status_code == 404
    assert result.headers["content-type"].startswith("application/json")
    assert set(result.json) <= {"message", "title", "description"}


def test_only_the_files_present_when_the_app_was_built_are_served(tmp_path):
    (tmp_path / "site.css").write_text("body {}")
    (tmp_path / "notes.txt").write_text("an unknown type")
    (tmp_path / "nested").mkdir()
    (tmp_path / "nested" / "deep.css").write_text("p {}")
    secret = tmp_path.parent / f"{tmp_path.name}-secret.css"
    secret.write_text("secret")
    os.symlink(secret, tmp_path / "linked.css")
    app = falcon.App()
    app.add_route("/static/{name}", StaticFile(AssetDirectory("/static", tmp_path)))
    client = falcon.testing.TestClient(app)

    (tmp_path / "later.css").write_text("added after start")

    assert client.simulate_get("/static/site.css").text == "body {}"
    for name in ("notes.txt", "nested", "deep.css", "linked.css", "later.css"):
        assert client.simulate_get(f"/static/{name}").status_code == 404, name


def test_a_page_referring_to_a_file_that_is_not_served_fails_when_the_app_is_built(tmp_path):
    page = tmp_path / "page.html"
    page.write_text('<script src="/static/missing.js"></script>')
    with pytest.raises(RuntimeError, match="missing.js"):
        render_page(page, [AssetDirectory("/static", STATIC_DIR)])


def test_gallery_script_never_parses_text_as_html():
    script = (STATIC_DIR / "gallery.js").read_text()
    for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function"):
        assert sink not in script, sink


def test_gallery_uses_sized_variants_in_its_grid():
    script = (STATIC_DIR / "gallery.js").read_text()
    assert "?w=${width}" in script
    assert "GRID_WIDTHS = [160, 320, 640]" in script


@pytest.mark.parametrize("path", PAGES + ["/static/gallery.js", "/docs/swagger-ui-bundle.js"])
def test_pages_and_files_are_served_without_the_database(path, tmp_path):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    # Nothing listens there: every database request fails.
    app = create_app(Settings.load(overrides={
        "env": "testing", "instance_dir": tmp_path / "instance",
        "database_url": f"postgresql://nobody@127.0.0.1:{closed_port}/none",
    }))
    client = falcon.testing.TestClient(app)
    assert client.simulate_get("/api/v1.0/images").status_code == 503
    assert client.simulate_get(path).status_code == 200
