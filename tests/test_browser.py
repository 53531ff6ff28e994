"""The gallery and the docs in a real browser (Chromium through Playwright) against real Gunicorn.

Each flow is what a person does: upload through the file picker, open an
image, comment, edit, delete; paste an API key when the server asks for one;
use the keyboard; read the page on a phone; try the API from the docs. Every
test also checks that the page broke no Content-Security-Policy rule and threw
no script error.

Chromium is Debian's (``apt-get install chromium``; .ci/run installs it). The
module is skipped only where it is missing. With
``FALCON_IMG_UPDATE_SCREENSHOTS=1`` the screenshot test writes the README's
pictures into docs/ (otherwise into a temp dir).
"""

from __future__ import annotations

import io
import os
import random
import re
import shutil
import uuid
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import PIL.Image
import PIL.ImageDraw
import PIL.ImageFilter
import pytest
import urllib3

from servers import REPO_ROOT, GunicornServer

pytestmark = pytest.mark.e2e

CHROMIUM = next(
    (path for path in (shutil.which("chromium"), "/usr/bin/chromium", "/usr/lib/chromium/chromium")
     if path and Path(path).exists()),
    None,
)
if CHROMIUM is None:
    pytest.skip("Chromium is not installed (apt-get install -y chromium)", allow_module_level=True)

from playwright.sync_api import Page, expect, sync_playwright  # noqa: E402

CHROMIUM_ARGS = [
    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]
API = "/api/v1.0"
API_KEY = "browser-test-key-4f1c9a7e2b"
DESKTOP = {"width": 1280, "height": 800}
#: The README's pictures: two full rows of the grid.
SCREENSHOT = {"width": 1280, "height": 900}
PHONE = {"width": 375, "height": 740}
#: The gallery's page size (gallery.js PAGE_SIZE).
GALLERY_PAGE_SIZE = 24
EXPECT_TIMEOUT_MS = 15_000


# -- pictures worth looking at ---------------------------------------------------

#: name, sky colour at the top, at the bottom, glows, size
ARTWORKS = [
    ("sunset-dunes.jpg", (255, 183, 94), (237, 66, 100), [(255, 230, 150), (180, 60, 150)], (1200, 800)),
    ("northern-lights.jpg", (12, 30, 66), (38, 208, 160), [(120, 90, 255), (80, 255, 200)], (1200, 800)),
    ("lagoon.png", (86, 204, 242), (47, 128, 237), [(180, 255, 240), (20, 60, 160)], (900, 900)),
    ("lavender-field.jpg", (203, 164, 255), (110, 72, 170), [(255, 200, 240), (70, 40, 140)], (900, 1200)),
    ("citrus-morning.jpg", (255, 240, 150), (255, 140, 60), [(255, 255, 220), (240, 90, 60)], (1200, 800)),
    ("deep-forest.jpg", (30, 90, 70), (10, 30, 30), [(140, 220, 120), (20, 60, 50)], (1000, 1000)),
    ("rose-quartz.png", (255, 210, 220), (200, 120, 190), [(255, 255, 255), (160, 90, 200)], (800, 1000)),
    ("midnight-city.jpg", (25, 20, 60), (90, 40, 120), [(255, 120, 80), (80, 160, 255)], (1440, 810)),
]


def artwork(size, top, bottom, glows, seed: int = 0, fmt: str = "JPEG") -> bytes:
    """A landscape: a sky gradient with soft glows, and two ridges in front."""
    rnd = random.Random(seed)
    width, height = size
    # The soft parts are painted small and enlarged: as smooth, and far quicker to blur.
    small = (max(8, width // 4), max(8, height // 4))
    ramp = PIL.Image.linear_gradient("L").rotate(rnd.choice([30, 45, 60, 120, 135]), PIL.Image.BICUBIC, expand=True)
    ramp = ramp.crop((ramp.width // 2 - 88, ramp.height // 2 - 88, ramp.width // 2 + 88, ramp.height // 2 + 88))
    sky = PIL.Image.composite(PIL.Image.new("RGB", small, bottom), PIL.Image.new("RGB", small, top), ramp.resize(small))
    for colour in glows:
        radius = rnd.randint(min(small) // 5, min(small) // 2)
        x, y = rnd.randint(0, small[0]), rnd.randint(0, small[1])
        glow = PIL.Image.new("L", small, 0)
        PIL.ImageDraw.Draw(glow).ellipse((x - radius, y - radius, x + radius, y + radius), fill=rnd.randint(150, 230))
        sky = PIL.Image.composite(PIL.Image.new("RGB", small, colour), sky, glow.filter(PIL.ImageFilter.GaussianBlur(radius / 2.2)))
    picture = sky.resize(size, PIL.Image.BICUBIC)
    for level, alpha, steps in ((rnd.uniform(.55, .65), 80, 6), (rnd.uniform(.72, .82), 170, 9)):
        ridge = PIL.Image.new("L", size, 0)
        points = [(0, height)] + [
            (x, height * level + rnd.uniform(-height * .07, height * .07)) for x in range(0, width + 1, max(1, width // steps))
        ] + [(width, height)]
        PIL.ImageDraw.Draw(ridge).polygon(points, fill=alpha)
        shade = PIL.Image.new("RGB", size, tuple(channel // 5 for channel in bottom))
        picture = PIL.Image.composite(shade, picture, ridge.filter(PIL.ImageFilter.GaussianBlur(1.5)))
    buffer = io.BytesIO()
    picture.save(buffer, fmt, **({"quality": 88} if fmt == "JPEG" else {}))
    return buffer.getvalue()


def small_artwork(index: int, fmt: str = "PNG") -> bytes:
    name, top, bottom, glows, _ = ARTWORKS[index % len(ARTWORKS)]
    return artwork((240, 160), top, bottom, glows, seed=index, fmt=fmt)


def unique_name(stem: str, suffix: str = "png") -> str:
    return f"{stem}-{uuid.uuid4().hex[:10]}.{suffix}"


# -- servers, browser, pages -----------------------------------------------------------

def start_server(root: Path, **env: str) -> GunicornServer:
    return GunicornServer.in_folder(root, workers=2, **env).start()


@pytest.fixture(scope="module")
def open_server(tmp_path_factory):
    """Open mode (no API keys): every write is allowed."""
    server = start_server(tmp_path_factory.mktemp("browser-open"))
    yield server
    server.stop()
    assert "Traceback" not in server.log(), server.log_tail()


@pytest.fixture(scope="module")
def keyed_server(tmp_path_factory):
    """API keys configured: writes need the key, or the resource's edit token."""
    server = start_server(tmp_path_factory.mktemp("browser-keyed"), FALCON_IMG_API_KEYS=API_KEY)
    yield server
    server.stop()
    assert "Traceback" not in server.log(), server.log_tail()


@pytest.fixture(scope="module")
def browser():
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


class PageWatch:
    """What a page reported while a test drove it: requests, console messages, script errors."""

    def __init__(self, page: Page) -> None:
        self.requests: list[str] = []
        self.console: list[str] = []
        self.errors: list[str] = []
        page.on("request", lambda request: self.requests.append(request.url))
        page.on("console", lambda message: self.console.append(message.text))
        page.on("pageerror", lambda error: self.errors.append(str(error)))

    def policy_violations(self) -> list[str]:
        return [text for text in self.console if "Content Security Policy" in text]


@pytest.fixture
def page(browser):
    """A fresh browser profile (empty localStorage) on a desktop-sized window; confirms say yes."""
    context = browser.new_context(viewport=DESKTOP, locale="en-US", timezone_id="UTC")
    context.set_default_timeout(EXPECT_TIMEOUT_MS)
    tab = context.new_page()
    tab.on("dialog", lambda dialog: dialog.accept())
    tab.watch = PageWatch(tab)
    yield tab
    try:
        assert tab.watch.policy_violations() == []
        assert tab.watch.errors == []
    finally:
        context.close()


expect.set_options(timeout=EXPECT_TIMEOUT_MS)


# -- talking to the server directly (to seed data and check what happened) ------------

def api_upload(server: GunicornServer, data: bytes, filename: str, headers: dict | None = None):
    body, content_type = urllib3.encode_multipart_formdata({"file": (filename, data, "application/octet-stream")})
    return server.request("POST", f"{API}/images", body=body, headers={"Content-Type": content_type, **(headers or {})})


def api_json(server: GunicornServer, method: str, path: str, document=None, headers: dict | None = None):
    if document is None:
        return server.request(method, path, headers=headers)
    return server.request_json(method, path, document, headers=headers)


def all_images(server: GunicornServer) -> list[dict]:
    images, url = [], f"{API}/images?limit=1000"
    while url:
        page = api_json(server, "GET", url).json()
        images += page["images"]
        url = page["next"]
    return images


def grid_image(page: Page, name: str):
    return page.locator("#grid").get_by_alt_text(name, exact=True)


def wait_until_loaded(page: Page, locator) -> None:
    locator.wait_for()
    page.wait_for_function("image => image.complete && image.naturalWidth > 0", arg=locator.element_handle())


def overflows_sideways(page: Page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth > window.innerWidth")


# -- the flows ----------------------------------------------------------------------------

def test_an_image_goes_from_upload_to_comments_to_delete_through_the_gallery(open_server, page, tmp_path):
    name = unique_name("flow")
    picture = tmp_path / name
    picture.write_bytes(artwork((640, 420), (86, 204, 242), (47, 128, 237), [(180, 255, 240)], seed=7, fmt="PNG"))
    page.goto(open_server.url + "/")

    page.set_input_files("#file-input", str(picture))

    thumbnail = grid_image(page, name)
    expect(thumbnail).to_be_visible()
    wait_until_loaded(page, thumbnail)
    assert "?w=" in thumbnail.get_attribute("src")
    assert {f"w={width}" for width in (160, 320, 640)} <= set(re.findall(r"w=\d+", thumbnail.get_attribute("srcset")))
    # The grid asked only for sized variants, never for the full file.
    file_requests = [url for url in page.watch.requests if f"{API}/file/" in url]
    assert file_requests and all("w" in parse_qs(urlsplit(url).query) for url in file_requests)
    image = next(item for item in all_images(open_server) if item["name"] == name)

    thumbnail.click()

    expect(page).to_have_url(re.compile(rf"#/images/{image['id']}$"))
    viewer = page.locator("#viewer")
    expect(viewer).to_be_visible()
    expect(page.locator("#viewer-title")).to_have_text(name)
    full = page.locator("#viewer-image")
    expect(full).to_have_attribute("src", image["file_url"])
    expect(full).to_have_attribute("alt", name)
    wait_until_loaded(page, full)
    assert full.evaluate("image => image.naturalWidth") == image["width"] == 640
    meta = page.locator("#viewer-meta")
    for shown in (name, f"{image['size']:,} bytes", "640 × 420 px", "image/png"):
        expect(meta).to_contain_text(shown)
    expect(meta.locator("time")).to_have_attribute("datetime", image["created_at"])
    expect(page.locator("#comments-empty")).to_be_visible()

    # Comments are user input: markup in them is shown as text, never run.
    first_text = 'Lovely blue <b>really</b> <img src=x onerror="document.title=1">'
    page.fill("#comment-text", first_text)
    page.get_by_role("button", name="Add comment").click()
    comment = page.locator("#comments li.comment")
    expect(comment.locator(".comment-text")).to_have_text(first_text)
    assert page.locator("#comments b, #comments img").count() == 0
    expect(page.locator("#comments-empty")).to_be_hidden()
    stored = api_json(open_server, "GET", image["comm_url"]).json()["comments"]
    assert [item["text"] for item in stored] == [first_text]

    comment.get_by_role("button", name="Edit").click()
    editor = comment.get_by_role("textbox", name="Comment text")
    expect(editor).to_be_focused()
    # Escape in the editor cancels the edit and leaves the view open.
    page.keyboard.press("Escape")
    expect(editor).to_have_count(0)
    expect(viewer).to_be_visible()
    expect(comment.locator(".comment-text")).to_have_text(first_text)
    comment.get_by_role("button", name="Edit").click()
    expect(editor).to_be_focused()
    editor.fill("Lovely blue, edited")
    comment.get_by_role("button", name="Save").click()
    expect(comment.locator(".comment-text")).to_have_text("Lovely blue, edited")
    assert api_json(open_server, "GET", stored[0]["comm_url"]).json()["text"] == "Lovely blue, edited"
    expect(grid_image(page, name).locator("xpath=..")).to_contain_text("1 comment")

    comment.get_by_role("button", name="Delete").click()
    expect(page.locator("#comments li.comment")).to_have_count(0)
    assert api_json(open_server, "GET", stored[0]["comm_url"]).status == 404

    page.get_by_role("button", name="Delete image").click()
    expect(viewer).to_be_hidden()
    expect(grid_image(page, name)).to_have_count(0)
    expect(page.locator("#gallery")).to_be_focused()
    assert "#/images" not in page.url
    assert api_json(open_server, "GET", image["image_url"]).status == 404
    # The edit token it was given is not kept once the image is gone.
    assert page.evaluate("key => localStorage.getItem(key)", f"falcon-img:edit-token:{image['image_url']}") is None


def test_files_dropped_on_the_page_are_uploaded_with_a_progress_bar(open_server, page):
    name = unique_name("dropped")
    # Noise does not compress: a few hundred kilobytes make several progress events.
    noise = PIL.Image.frombytes("RGB", (400, 300), random.Random(1).randbytes(400 * 300 * 3))
    buffer = io.BytesIO()
    noise.save(buffer, "PNG")
    page.goto(open_server.url + "/")
    page.evaluate("""() => {
        window.progressSeen = [];
        new MutationObserver((changes) => changes.forEach((change) => window.progressSeen.push(
            [Number(change.target.getAttribute('value')), Number(change.target.getAttribute('max'))])))
          .observe(document.getElementById('uploads'), {subtree: true, attributes: true, attributeFilter: ['value']});
    }""")
    transfer = page.evaluate_handle("""([name, bytes]) => {
        const transfer = new DataTransfer();
        transfer.items.add(new File([new Uint8Array(bytes)], name, {type: 'image/png'}));
        return transfer;
    }""", [name, list(buffer.getvalue())])

    page.dispatch_event("#uploader", "dragenter", {"dataTransfer": transfer})
    expect(page.locator("#drop-overlay")).to_be_visible()
    page.dispatch_event("#uploader", "drop", {"dataTransfer": transfer})

    expect(page.locator("#drop-overlay")).to_be_hidden()
    expect(grid_image(page, name)).to_be_visible()
    seen = page.evaluate("window.progressSeen")
    # The bar moved, and ended full (the whole request body was sent).
    assert seen and seen[-1][0] == seen[-1][1] > len(buffer.getvalue())
    assert any(item["name"] == name for item in all_images(open_server))


def test_a_refused_upload_shows_the_servers_message(open_server, page, tmp_path):
    notes = tmp_path / "notes.txt"
    notes.write_bytes(b"Not an image, just a few words.\n")
    expected = api_upload(open_server, notes.read_bytes(), "notes.txt")
    assert expected.status == 415
    page.goto(open_server.url + "/")

    page.set_input_files("#file-input", str(notes))

    row = page.locator("#uploads li.upload", has_text="notes.txt")
    expect(row.locator(".upload-message")).to_have_text(expected.json()["message"])
    expect(row.get_by_role("alert")).to_be_visible()
    expect(grid_image(page, "notes.txt")).to_have_count(0)
    row.get_by_role("button", name="Dismiss").click()
    expect(row).to_have_count(0)


def test_an_upload_under_a_taken_name_says_so_and_links_to_that_image(open_server, page, tmp_path):
    name = unique_name("taken")
    picture = tmp_path / name
    picture.write_bytes(small_artwork(2))
    first = api_upload(open_server, picture.read_bytes(), name).json()
    page.goto(open_server.url + "/")

    page.set_input_files("#file-input", str(picture))

    row = page.locator("#uploads li.upload", has_text=name)
    expect(row.get_by_role("alert")).to_contain_text(name)
    row.get_by_role("link", name="Show that image").click()
    expect(page).to_have_url(re.compile(rf"#/images/{first['id']}$"))
    expect(page.locator("#viewer-title")).to_have_text(name)


def test_the_keyboard_opens_an_image_and_escape_closes_it(open_server, page):
    api_upload(open_server, small_artwork(3), unique_name("keys"))
    page.goto(open_server.url + "/")
    expect(page.locator("#grid a.card").first).to_be_visible()

    for _ in range(30):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.classList.contains('card')"):
            break
    card = page.locator("#grid a.card:focus")
    expect(card).to_have_count(1)
    href = card.get_attribute("href")
    name = card.locator("img").get_attribute("alt")
    assert card.evaluate("link => getComputedStyle(link).outlineStyle") != "none"
    card = page.locator(f'#grid a.card[href="{href}"]')

    page.keyboard.press("Enter")
    expect(page.locator("#viewer")).to_be_visible()
    expect(page).to_have_url(re.compile(f"{re.escape(href)}$"))
    expect(page.locator("#viewer-title")).to_have_text(name)
    expect(page.get_by_role("button", name="Close")).to_be_focused()

    page.keyboard.press("Escape")
    expect(page.locator("#viewer")).to_be_hidden()
    assert "#/images" not in page.url
    expect(card).to_be_focused()


def test_the_page_fits_a_phone_screen_without_sideways_scrolling(open_server, page):
    long_name = "a-rather-long-file-name-without-any-spaces-" * 4 + ".png"
    image = api_upload(open_server, small_artwork(4), long_name).json()
    api_json(open_server, "POST", image["comm_url"], {"text": "wide" * 120})
    page.set_viewport_size(PHONE)

    page.goto(open_server.url + "/")
    wait_until_loaded(page, grid_image(page, long_name))
    assert not overflows_sideways(page)

    page.goto(f"{open_server.url}/#/images/{image['id']}")
    expect(page.locator("#viewer-title")).to_have_text(long_name)
    expect(page.locator("#comments li.comment")).to_have_count(1)
    wait_until_loaded(page, page.locator("#viewer-image"))
    assert not overflows_sideways(page)
    assert page.evaluate("(() => { const view = document.querySelector('.viewer-layout');"
                         " return view.scrollWidth <= view.clientWidth; })()")


def test_the_grid_loads_the_next_page_as_the_user_scrolls(open_server, page):
    # Last of the open server's tests that look at the grid: after it, the gallery is longer than a page.
    for index in range(GALLERY_PAGE_SIZE + 6):
        assert api_upload(open_server, small_artwork(index), unique_name(f"scroll-{index:02d}")).status == 201
    expected = {str(image["id"]) for image in all_images(open_server)}
    assert len(expected) > GALLERY_PAGE_SIZE
    page.set_viewport_size({"width": 1280, "height": 600})
    page.goto(open_server.url + "/")
    cards = page.locator("#grid a.card")
    expect(cards.first).to_be_visible()

    for _ in range(40):
        if cards.count() >= len(expected):
            break
        page.mouse.wheel(0, 2500)
        page.wait_for_timeout(150)

    expect(cards).to_have_count(len(expected))
    shown = [href.rsplit("/", 1)[1] for href in cards.evaluate_all("links => links.map(link => link.getAttribute('href'))")]
    assert sorted(shown) == sorted(expected)  # each image once
    listings = [urlsplit(url) for url in page.watch.requests if urlsplit(url).path == f"{API}/images"]
    assert all(parse_qs(listing.query)["limit"] == [str(GALLERY_PAGE_SIZE)] for listing in listings)
    assert any("after" in parse_qs(listing.query) for listing in listings)
    expect(page.get_by_role("button", name="Load more images")).to_be_hidden()


def test_an_api_key_pasted_into_the_page_is_used_for_writes_and_edit_tokens_after_it(keyed_server, page, tmp_path):
    name = unique_name("keyed")
    picture = tmp_path / name
    picture.write_bytes(small_artwork(5))
    refused = api_upload(keyed_server, picture.read_bytes(), name)
    assert refused.status == 401
    page.goto(keyed_server.url + "/")

    page.set_input_files("#file-input", str(picture))
    expect(page.locator("#uploads .upload-message")).to_have_text(refused.json()["message"])
    expect(page.locator("#key-panel")).to_be_visible()

    page.locator("#key-input").fill(API_KEY)
    page.get_by_role("button", name="Save key").click()
    expect(page.locator("#key-state")).to_contain_text("Saved")
    page.set_input_files("#file-input", str(picture))
    expect(grid_image(page, name)).to_be_visible()
    image = next(item for item in all_images(keyed_server) if item["name"] == name)
    token_key = f"falcon-img:edit-token:{image['image_url']}"
    assert page.evaluate("key => localStorage.getItem(key)", token_key)

    # Without the key, a new comment is refused; the image's own edit token still deletes it.
    page.get_by_role("button", name="Forget key").click()
    expect(page.locator("#key-state")).to_contain_text("forgotten")
    grid_image(page, name).click()
    page.fill("#comment-text", "needs a key")
    page.get_by_role("button", name="Add comment").click()
    expect(page.locator("#viewer-error")).to_contain_text("API key")
    expect(page.locator("#comments li.comment")).to_have_count(0)
    page.get_by_role("button", name="Delete image").click()
    expect(page.locator("#viewer")).to_be_hidden()
    assert api_json(keyed_server, "GET", image["image_url"]).status == 404
    assert page.evaluate("key => localStorage.getItem(key)", token_key) is None


def test_the_docs_try_it_out_against_this_server(open_server, page):
    page.goto(open_server.url + "/docs")
    operation = page.locator(".opblock", has_text="List images, oldest first")
    operation.locator(".opblock-summary-control").click()
    operation.get_by_role("button", name="Try it out").click()
    operation.get_by_role("button", name="Execute").click()

    expect(operation.locator(".live-responses-table tbody .response-col_status").first).to_have_text("200")
    expect(operation.locator(".request-url")).to_contain_text(f"{open_server.url}{API}/images")
    # Everything came from this server: no CDN, no outside validator.
    assert page.watch.requests
    assert all(url.startswith(open_server.url) or url.startswith("data:") for url in page.watch.requests)


@pytest.mark.parametrize("path", [
    "/static/../falcon_img/app.py",
    "/static/..%2fapp.py",
    "/static/%2e%2e%2f%2e%2e%2fpyproject.toml",
    "/static/%2e%2e",
    "/docs/..%2f..%2f__init__.py",
    "/static//etc/passwd",
])
def test_the_file_routes_never_leave_their_directory_over_real_http(open_server, path):
    # http.client sends the path as written: no client-side normalisation.
    answer = open_server.request("GET", path)
    assert answer.status == 404
    assert answer.headers["Content-Type"].startswith("application/json")
    assert set(answer.json()) <= {"message", "title", "description"}


def test_screenshots_of_the_gallery_and_the_image_view(browser, tmp_path):
    target = REPO_ROOT / "docs" if os.environ.get("FALCON_IMG_UPDATE_SCREENSHOTS") == "1" else tmp_path
    server = start_server(tmp_path / "server")
    try:
        for index, (name, top, bottom, glows, size) in enumerate(ARTWORKS):
            fmt = "PNG" if name.endswith(".png") else "JPEG"
            assert api_upload(server, artwork(size, top, bottom, glows, seed=index, fmt=fmt), name).status == 201
        lights = next(image for image in all_images(server) if image["name"] == "northern-lights.jpg")
        for text in ("The green is unreal. Where was this taken?",
                     "Northern Norway, early March, a little after midnight.",
                     "Wallpaper material, thank you for sharing!"):
            assert api_json(server, "POST", lights["comm_url"], {"text": text}).status == 201

        context = browser.new_context(viewport=SCREENSHOT, locale="en-US", timezone_id="UTC", color_scheme="light")
        page = context.new_page()
        watch = PageWatch(page)
        page.goto(server.url + "/")
        expect(page.locator("#grid img")).to_have_count(len(ARTWORKS))
        page.wait_for_function("() => Array.from(document.querySelectorAll('#grid img')).every(i => i.complete && i.naturalWidth)")
        page.screenshot(path=str(target / "gallery.png"))

        page.locator(f'#grid a.card[href="#/images/{lights["id"]}"]').click()
        expect(page.locator("#comments li.comment")).to_have_count(3)
        wait_until_loaded(page, page.locator("#viewer-image"))
        page.screenshot(path=str(target / "image-view.png"))
        context.close()
        assert watch.policy_violations() == [] and watch.errors == []
    finally:
        server.stop()
    for picture in ("gallery.png", "image-view.png"):
        with PIL.Image.open(target / picture) as shot:
            assert shot.size == (SCREENSHOT["width"], SCREENSHOT["height"])
