"""Who may write (API.md, "Access" and "Precise points"): open mode, API keys, edit tokens.

Every refused write is checked for its side effects too: the rows and the
files on disk are exactly what they were before it.
"""

from __future__ import annotations

import hashlib
import logging

import pytest

from falcon_img import db
from falcon_img.app import create_app
from falcon_img.models import Blob, Comment, Image

from support import client_for, files_under, image_bytes, multipart, upload

API = "/api/v1.0"
KEY = "key-0123456789abcdef-first"
OTHER_KEY = "key-fedcba9876543210-second"


def bearer(credential: str) -> dict:
    return {"Authorization": f"Bearer {credential}"}


@pytest.fixture
def client_with(settings):
    """A client on fresh tables whose settings differ from the default test settings."""
    yield lambda **changes: client_for(settings.replace(**changes))
    db.database.close_all()


@pytest.fixture
def keyed(client_with):
    return client_with(api_keys=(KEY, OTHER_KEY))


@pytest.fixture
def snapshot(settings):
    """Everything a write could change: rows (with their contents) and files on disk."""
    def take():
        with db.connection():
            rows = (
                sorted((i.id, i.name, i.blob_id, i.edit_token_hash) for i in Image.select()),
                sorted((c.id, c.image_id, c.text, c.updated_at, c.edit_token_hash) for c in Comment.select()),
                sorted(b.sha256 for b in Blob.select()),
            )
        files = files_under(settings.resources_dir / "images") | files_under(settings.spool_dir)
        return rows, files
    return take


def post_image(client, color=(10, 20, 30), name="cat.png", headers=None):
    return upload(client, image_bytes(color=color), name, headers=headers)


def post_comment(client, image_id: int, text="nice cat", headers=None):
    return client.simulate_post(f"{API}/images/{image_id}/comments", json={"text": text}, headers=headers)


def seed(client, headers=None) -> tuple[dict, dict]:
    """One image and one comment on it, created with ``headers``; their 201 bodies."""
    image = post_image(client, headers=headers)
    assert image.status_code == 201, image.text
    comment = post_comment(client, image.json["id"], headers=headers)
    assert comment.status_code == 201, comment.text
    return image.json, comment.json


def assert_unauthorized(result) -> None:
    assert result.status_code == 401, result.text
    assert result.headers["www-authenticate"].lower().startswith("bearer")
    assert result.headers["content-type"].startswith("application/json")
    assert result.json["message"]


def assert_forbidden(result) -> None:
    assert result.status_code == 403, result.text
    assert result.json["message"]


# -- open mode -------------------------------------------------------------

def test_open_mode_allows_every_write_without_a_credential(client):
    image, comment = seed(client)

    changed = client.simulate_put(f"{API}/comments/{comment['id']}", json={"text": "changed"})
    assert changed.status_code == 200, changed.text
    assert client.simulate_delete(f"{API}/comments/{comment['id']}").status_code == 200
    assert client.simulate_delete(f"{API}/images/{image['id']}").status_code == 200


def test_open_mode_ignores_whatever_credential_is_sent(client):
    image, comment = seed(client, headers=bearer("not-a-key"))

    assert client.simulate_put(
        f"{API}/comments/{comment['id']}", json={"text": "x"}, headers={"Authorization": "Basic Zm9vOmJhcg=="},
    ).status_code == 200
    assert client.simulate_delete(f"{API}/images/{image['id']}", headers=bearer("garbage")).status_code == 200


def test_every_201_carries_an_edit_token_that_never_appears_again(client):
    image, comment = seed(client)
    second = post_comment(client, image["id"], text="another").json
    tokens = [image["edit_token"], comment["edit_token"], second["edit_token"]]
    for token in tokens:
        assert isinstance(token, str) and len(token) >= 16
    assert len(set(tokens)) == 3

    later = [
        client.simulate_get(f"{API}/images"),
        client.simulate_get(f"{API}/images/{image['id']}"),
        client.simulate_get(f"{API}/images/{image['id']}/comments"),
        client.simulate_get(f"{API}/comments/{comment['id']}"),
        client.simulate_get(image["file_url"]),
        client.simulate_put(f"{API}/comments/{comment['id']}", json={"text": "edited"}),
        client.simulate_delete(f"{API}/comments/{second['id']}"),
        client.simulate_delete(f"{API}/images/{image['id']}"),
    ]
    for result in later:
        assert result.status_code == 200, result.text
        seen = result.content + repr(sorted(result.headers.items())).encode()
        for token in tokens:
            assert token.encode() not in seen
        assert b"edit_token" not in seen


def test_edit_tokens_are_stored_only_as_hashes(client, settings, database_url):
    image, comment = seed(client)
    tokens = {image["edit_token"], comment["edit_token"]}

    with db.connection():
        rows = [
            *db.database.execute_sql("SELECT * FROM image").fetchall(),
            *db.database.execute_sql("SELECT * FROM comment").fetchall(),
        ]
        assert Image.get_by_id(image["id"]).edit_token_hash == hashlib.sha256(image["edit_token"].encode()).hexdigest()
        assert Comment.get_by_id(comment["id"]).edit_token_hash == hashlib.sha256(
            comment["edit_token"].encode()).hexdigest()
    for token in tokens:
        assert not any(token in str(value) for row in rows for value in row)
    if database_url.startswith("sqlite"):
        # The file itself, with its write-ahead log: nowhere on disk in plain text.
        db.database.close_all()
        stored = b"".join(path.read_bytes() for path in files_under(settings.resources_dir / "db"))
        assert stored
        for token in tokens:
            assert token.encode() not in stored


# -- API keys --------------------------------------------------------------

def test_an_api_key_allows_every_write(keyed):
    for key in (KEY, OTHER_KEY):
        image, comment = seed(keyed, headers=bearer(key))
        changed = keyed.simulate_put(f"{API}/comments/{comment['id']}", json={"text": "changed"}, headers=bearer(key))
        assert changed.status_code == 200, changed.text
        assert changed.json["text"] == "changed"
        assert keyed.simulate_delete(f"{API}/comments/{comment['id']}", headers=bearer(key)).status_code == 200
        assert keyed.simulate_delete(f"{API}/images/{image['id']}", headers=bearer(key)).status_code == 200


def test_reads_need_no_credential_when_keys_are_configured(keyed):
    image, comment = seed(keyed, headers=bearer(KEY))

    for path in (f"{API}/images", image["image_url"], image["comm_url"], comment["comm_url"], image["file_url"]):
        assert keyed.simulate_get(path).status_code == 200, path


REFUSED_CREDENTIALS = [
    pytest.param({}, id="none"),
    pytest.param(bearer("unknown-credential-0123456789"), id="unknown"),
    pytest.param(bearer(KEY[:-1]), id="key-prefix"),
    pytest.param(bearer(KEY + "x"), id="key-plus-one"),
    pytest.param(bearer(KEY.upper()), id="key-other-case"),
    pytest.param({"Authorization": KEY}, id="no-scheme"),
    pytest.param({"Authorization": f"Basic {KEY}"}, id="basic-scheme"),
    pytest.param({"Authorization": f"Token {KEY}"}, id="token-scheme"),
    pytest.param({"Authorization": f"Bearer{KEY}"}, id="no-space"),
    pytest.param({"Authorization": "Bearer"}, id="scheme-only"),
    pytest.param({"Authorization": "Bearer    "}, id="scheme-and-spaces"),
    pytest.param({"Authorization": ""}, id="empty"),
    pytest.param(bearer(f"{KEY} {KEY}"), id="key-twice"),
    pytest.param(bearer("x" * 10_000), id="huge"),
    pytest.param(bearer("é" + KEY), id="non-ascii"),
]


@pytest.mark.parametrize("headers", REFUSED_CREDENTIALS)
def test_a_write_without_a_valid_credential_is_401_whatever_the_target_and_body(keyed, snapshot, headers):
    image, comment = seed(keyed, headers=bearer(KEY))
    missing = 987654321
    valid_upload, upload_type = multipart({"file": ("new.png", image_bytes(color=(1, 1, 1)), "image/png")})
    writes = [
        ("POST", f"{API}/images", {"body": valid_upload, "content_type": upload_type}),
        ("POST", f"{API}/images", {"json": {"not": "multipart"}}),
        ("POST", f"{API}/images", {}),
        ("POST", f"{API}/images/{image['id']}/comments", {"json": {"text": "sneaky"}}),
        ("POST", f"{API}/images/{image['id']}/comments", {"json": {"text": ""}}),
        ("POST", f"{API}/images/{missing}/comments", {"json": {"text": "sneaky"}}),
        ("PUT", f"{API}/comments/{comment['id']}", {"json": {"text": "sneaky"}}),
        ("PUT", f"{API}/comments/{comment['id']}", {"body": b"{not json", "content_type": "application/json"}),
        ("PUT", f"{API}/comments/{missing}", {"json": {"text": "sneaky"}}),
        ("DELETE", f"{API}/comments/{comment['id']}", {}),
        ("DELETE", f"{API}/comments/{missing}", {}),
        ("DELETE", f"{API}/images/{image['id']}", {}),
        ("DELETE", f"{API}/images/{missing}", {}),
    ]
    before = snapshot()

    for method, path, kwargs in writes:
        result = keyed.simulate_request(method, path, headers=headers, **kwargs)
        assert_unauthorized(result)
    assert snapshot() == before


@pytest.mark.parametrize(
    "authorization",
    [f"bearer {KEY}", f"BEARER {KEY}", f"BeArEr {KEY}", f"Bearer   {KEY}", f"Bearer {KEY}   ", f"  Bearer {KEY}"],
)
def test_the_bearer_scheme_is_case_insensitive_and_extra_spaces_are_ignored(keyed, authorization):
    result = post_image(keyed, headers={"Authorization": authorization})

    assert result.status_code == 201, result.text


# -- edit tokens -----------------------------------------------------------

def test_an_image_token_deletes_its_own_image_only(keyed, snapshot):
    mine, _ = seed(keyed, headers=bearer(KEY))
    other = post_image(keyed, color=(90, 90, 90), name="other.png", headers=bearer(KEY)).json
    before = snapshot()

    assert_forbidden(keyed.simulate_delete(other["image_url"], headers=bearer(mine["edit_token"])))
    assert_forbidden(keyed.simulate_delete(f"{API}/images/987654321", headers=bearer(mine["edit_token"])))
    assert snapshot() == before

    deleted = keyed.simulate_delete(mine["image_url"], headers=bearer(mine["edit_token"]))
    assert deleted.status_code == 200, deleted.text
    assert keyed.simulate_get(mine["image_url"]).status_code == 404
    assert keyed.simulate_get(other["image_url"]).status_code == 200


def test_an_image_token_cannot_touch_that_images_comments(keyed, snapshot):
    image, comment = seed(keyed, headers=bearer(KEY))
    token = bearer(image["edit_token"])
    before = snapshot()

    assert_forbidden(keyed.simulate_put(comment["comm_url"], json={"text": "hijacked"}, headers=token))
    assert_forbidden(keyed.simulate_delete(comment["comm_url"], headers=token))
    # Adding comments is a POST: that needs an API key (or anonymous posts).
    assert_forbidden(post_comment(keyed, image["id"], headers=token))
    assert snapshot() == before


def test_a_comment_token_edits_and_deletes_its_own_comment_only(keyed, snapshot):
    image, comment = seed(keyed, headers=bearer(KEY))
    other = post_comment(keyed, image["id"], text="someone else's", headers=bearer(KEY)).json
    token = bearer(comment["edit_token"])
    before = snapshot()

    assert_forbidden(keyed.simulate_put(other["comm_url"], json={"text": "hijacked"}, headers=token))
    assert_forbidden(keyed.simulate_delete(other["comm_url"], headers=token))
    assert_forbidden(keyed.simulate_delete(image["image_url"], headers=token))
    assert_forbidden(post_comment(keyed, image["id"], headers=token))
    assert_forbidden(post_image(keyed, color=(5, 5, 5), name="new.png", headers=token))
    assert snapshot() == before

    changed = keyed.simulate_put(comment["comm_url"], json={"text": "my own words"}, headers=token)
    assert changed.status_code == 200, changed.text
    assert changed.json["text"] == "my own words"
    assert keyed.simulate_delete(comment["comm_url"], headers=token).status_code == 200
    assert keyed.simulate_get(comment["comm_url"]).status_code == 404
    assert keyed.simulate_get(other["comm_url"]).json["text"] == "someone else's"


def test_a_token_of_a_deleted_resource_is_no_credential_at_all(keyed):
    image, comment = seed(keyed, headers=bearer(KEY))
    assert keyed.simulate_delete(comment["comm_url"], headers=bearer(comment["edit_token"])).status_code == 200

    assert_unauthorized(keyed.simulate_delete(comment["comm_url"], headers=bearer(comment["edit_token"])))
    assert keyed.simulate_delete(image["image_url"], headers=bearer(image["edit_token"])).status_code == 200
    assert_unauthorized(keyed.simulate_delete(image["image_url"], headers=bearer(image["edit_token"])))


def test_deleting_an_image_revokes_the_tokens_of_its_comments(keyed):
    image, comment = seed(keyed, headers=bearer(KEY))
    assert keyed.simulate_delete(image["image_url"], headers=bearer(KEY)).status_code == 200

    edit = keyed.simulate_put(comment["comm_url"], json={"text": "x"}, headers=bearer(comment["edit_token"]))
    assert_unauthorized(edit)


# -- POST and anonymous posts ----------------------------------------------

def test_posts_need_an_api_key_unless_anonymous_posts_are_on(keyed, snapshot):
    image, _ = seed(keyed, headers=bearer(KEY))
    before = snapshot()

    assert_unauthorized(post_image(keyed, color=(3, 3, 3), name="anon.png"))
    assert_unauthorized(post_comment(keyed, image["id"]))
    assert snapshot() == before


def test_anonymous_posts_need_no_credential_and_their_tokens_manage_what_they_made(client_with, snapshot):
    anon = client_with(api_keys=(KEY,), anonymous_posts=True)

    image = post_image(anon)
    assert image.status_code == 201, image.text
    comment = post_comment(anon, image.json["id"])
    assert comment.status_code == 201, comment.text
    image, comment = image.json, comment.json
    before = snapshot()

    # Editing and deleting still need a credential.
    assert_unauthorized(anon.simulate_put(comment["comm_url"], json={"text": "x"}))
    assert_unauthorized(anon.simulate_delete(comment["comm_url"]))
    assert_unauthorized(anon.simulate_delete(image["image_url"]))
    assert_forbidden(anon.simulate_delete(image["image_url"], headers=bearer(comment["edit_token"])))
    assert snapshot() == before

    changed = anon.simulate_put(comment["comm_url"], json={"text": "fixed typo"}, headers=bearer(comment["edit_token"]))
    assert changed.status_code == 200, changed.text
    assert anon.simulate_delete(comment["comm_url"], headers=bearer(comment["edit_token"])).status_code == 200
    assert anon.simulate_delete(image["image_url"], headers=bearer(image["edit_token"])).status_code == 200
    with db.connection():
        assert Image.select().count() == 0
        assert Comment.select().count() == 0


def test_every_201_carries_an_edit_token_when_keys_are_configured(keyed):
    image, comment = seed(keyed, headers=bearer(KEY))

    assert len(image["edit_token"]) >= 16
    assert len(comment["edit_token"]) >= 16
    assert image["edit_token"] not in (KEY, OTHER_KEY)


# -- the operator is told ---------------------------------------------------

def test_production_without_keys_logs_a_warning_at_start(settings, caplog):
    with caplog.at_level(logging.WARNING, logger="falcon_img"):
        create_app(settings.replace(env="production"))
    db.database.close_all()

    warnings = [r for r in caplog.records if r.levelno == logging.WARNING and "FALCON_IMG_API_KEYS" in r.getMessage()]
    assert len(warnings) == 1


def test_production_with_keys_or_development_without_them_logs_no_warning(settings, caplog):
    with caplog.at_level(logging.WARNING, logger="falcon_img"):
        create_app(settings.replace(env="production", api_keys=(KEY,)))
        create_app(settings.replace(env="development"))
    db.database.close_all()

    assert not [r for r in caplog.records if "FALCON_IMG_API_KEYS" in r.getMessage()]
