"""Comments: add, list, get, replace and delete (API.md, "Endpoints", "Representations")."""

from __future__ import annotations

import re
from urllib.parse import urlencode

import pytest

from falcon_img import db
from falcon_img.models import Comment, hash_token

from support import image_bytes, multipart, upload

COMMENT_KEYS = {"id", "image_id", "text", "comm", "created_at", "updated_at", "comm_url", "img_url"}
RFC3339 = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")


def assert_error(result, status: int) -> dict:
    assert result.status_code == status, result.text
    assert result.headers["content-type"].startswith("application/json")
    assert isinstance(result.json["message"], str) and result.json["message"]
    return result.json


def post_comment(client, image: dict, text: str) -> dict:
    result = client.simulate_post(image["comm_url"], json={"text": text})
    assert result.status_code == 201, result.text
    return result.json


def stored_text(comment_id: int) -> str | None:
    with db.connection():
        row = Comment.get_or_none(Comment.id == comment_id)
    return None if row is None else row.text


def comment_count() -> int:
    with db.connection():
        return Comment.select().count()


def form(text: str) -> dict:
    return {"body": urlencode({"text": text}), "content_type": "application/x-www-form-urlencoded"}


def multipart_form(text: str) -> dict:
    body, content_type = multipart({"text": text})
    return {"body": body, "content_type": content_type}


def json_body(text) -> dict:
    return {"json": {"text": text}}


BODIES = [pytest.param(json_body, id="json"), pytest.param(form, id="urlencoded"),
          pytest.param(multipart_form, id="multipart")]


# -- add -------------------------------------------------------------------

@pytest.mark.parametrize("body", BODIES)
def test_post_comment_returns_201_location_and_the_representation(client, image, body):
    result = client.simulate_post(image["comm_url"], **body("nice cat"))

    assert result.status_code == 201, result.text
    created = result.json
    assert set(created) == COMMENT_KEYS | {"edit_token", "message"}
    assert created["message"] == "Comment append"
    assert created["text"] == created["comm"] == "nice cat"
    assert created["image_id"] == image["id"]
    assert result.headers["location"] == created["comm_url"] == f"/api/v1.0/comments/{created['id']}"
    assert created["img_url"] == image["image_url"]
    assert RFC3339.fullmatch(created["created_at"]) and RFC3339.fullmatch(created["updated_at"])
    assert created["updated_at"] == created["created_at"]
    assert isinstance(created["edit_token"], str) and len(created["edit_token"]) >= 16
    with db.connection():
        row = Comment.get_by_id(created["id"])
    assert (row.text, row.image_id) == ("nice cat", image["id"])
    assert row.edit_token_hash == hash_token(created["edit_token"]) != created["edit_token"]


def test_post_accepts_the_original_apps_comm_key(client, image):
    result = client.simulate_post(image["comm_url"], json={"comm": "old client"})
    assert result.status_code == 201, result.text
    assert result.json["text"] == "old client"


def test_post_trims_the_text(client, image):
    created = post_comment(client, image, "  \n\t spaced out \r\n ")
    assert created["text"] == "spaced out"
    assert stored_text(created["id"]) == "spaced out"


def test_text_of_exactly_10000_characters_is_accepted_even_multibyte(client, image):
    text = "€" * 10_000
    created = post_comment(client, image, "  " + text + "  ")
    assert created["text"] == text
    assert stored_text(created["id"]) == text


def test_unicode_text_is_kept_as_sent(client, image):
    text = "très joli 🐈 — 猫"
    assert post_comment(client, image, text)["text"] == text
    multi = client.simulate_post(image["comm_url"], **multipart_form(text))
    assert multi.json["text"] == text
    urlenc = client.simulate_post(image["comm_url"], **form(text))
    assert urlenc.json["text"] == text


@pytest.mark.parametrize(
    "payload",
    [
        pytest.param({"text": ""}, id="empty"),
        pytest.param({"text": " \t\r\n "}, id="whitespace"),
        pytest.param({"text": "x" * 10_001}, id="over-10000"),
        pytest.param({"text": "a\x00b"}, id="nul"),
        pytest.param({"text": 5}, id="number"),
        pytest.param({"text": None}, id="null"),
        pytest.param({"text": ["a"]}, id="list"),
        pytest.param({"text": {"a": "b"}}, id="object"),
        pytest.param({"text": True}, id="bool"),
        pytest.param({}, id="missing"),
        pytest.param({"words": "hello"}, id="other-key"),
    ],
)
def test_post_invalid_text_is_400_with_errors(client, image, payload):
    body = assert_error(client.simulate_post(image["comm_url"], json=payload), 400)

    assert "text" in body["errors"]
    assert all(isinstance(message, str) for message in body["errors"]["text"])
    assert comment_count() == 0


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(urlencode({"text": "   "}), id="urlencoded-whitespace"),
        pytest.param("text=", id="urlencoded-empty"),
        pytest.param("other=1", id="urlencoded-missing"),
        pytest.param("text=a&text=b", id="urlencoded-repeated"),
        pytest.param(urlencode({"text": "y" * 10_001}), id="urlencoded-too-long"),
        pytest.param("text=a%00b", id="urlencoded-nul"),
    ],
)
def test_post_invalid_form_text_is_400_with_errors(client, image, body):
    result = client.simulate_post(image["comm_url"], body=body, content_type="application/x-www-form-urlencoded")
    assert "text" in assert_error(result, 400)["errors"]
    assert comment_count() == 0


def test_post_invalid_multipart_text_is_400_with_errors(client, image):
    for text in ("", "   ", "z" * 10_001):
        result = client.simulate_post(image["comm_url"], **multipart_form(text))
        assert "text" in assert_error(result, 400)["errors"]
    assert comment_count() == 0


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        pytest.param(b'{"text": "unclosed', "application/json", id="malformed-json"),
        pytest.param(b"", "application/json", id="empty-json"),
        pytest.param(b'["text"]', "application/json", id="json-array"),
        pytest.param(b'"text"', "application/json", id="json-string"),
        pytest.param(b'{"text": "caf\xe9"}', "application/json", id="json-latin1"),
        pytest.param(b"text=caf\xe9", "application/x-www-form-urlencoded", id="form-latin1"),
        pytest.param(b"text=caf%E9", "application/x-www-form-urlencoded", id="form-escaped-latin1"),
        pytest.param(
            b'--xyz\r\nContent-Disposition: form-data; name="text"\r\n\r\ncaf\xe9\r\n--xyz--\r\n',
            "multipart/form-data; boundary=xyz", id="multipart-latin1",
        ),
        pytest.param(b"garbage", "multipart/form-data; boundary=xyz", id="malformed-multipart"),
    ],
)
def test_post_malformed_or_non_utf8_body_is_400(client, image, body, content_type):
    # Sent explicitly: TestClient leaves Content-Length out for an empty body, as a chunked request would.
    headers = {"Content-Length": str(len(body))}
    result = client.simulate_post(image["comm_url"], body=body, content_type=content_type, headers=headers)
    assert_error(result, 400)
    assert comment_count() == 0


@pytest.mark.parametrize("content_type", ["text/plain", "application/xml", "image/png", None])
def test_post_unsupported_content_type_is_415(client, image, content_type):
    result = client.simulate_post(image["comm_url"], body=b"text=hello", content_type=content_type)
    assert_error(result, 415)
    assert comment_count() == 0


def test_post_to_an_unknown_image_is_404(client, image):
    assert_error(client.simulate_post(f"/api/v1.0/images/{image['id'] + 1}/comments", json={"text": "hi"}), 404)
    assert comment_count() == 0


def test_post_to_a_deleted_image_is_404(client, image):
    client.simulate_delete(image["image_url"])
    assert_error(client.simulate_post(image["comm_url"], json={"text": "too late"}), 404)


# -- list ------------------------------------------------------------------

def link_target(header: str | None) -> str | None:
    if not header:
        return None
    match = re.fullmatch(r'\s*<([^>]*)>\s*;\s*rel="next"\s*', header)
    return match.group(1) if match else None


def test_an_image_without_comments_has_an_empty_list(client, image):
    result = client.simulate_get(image["comm_url"])
    assert result.status_code == 200
    assert result.json == {"comments": [], "img_url": image["image_url"], "next": None}


def test_comments_are_listed_oldest_first_in_pages(client, image):
    other = upload(client, image_bytes(color=(1, 1, 1)), "other.png").json
    ids = []
    for i in range(5):
        ids.append(post_comment(client, image, f"comment {i}")["id"])
        post_comment(client, other, f"elsewhere {i}")

    seen, url, pages = [], f"{image['comm_url']}?limit=2", 0
    while url:
        result = client.simulate_get(url)
        assert result.status_code == 200, result.text
        pages += 1
        assert set(result.json) == {"comments", "img_url", "next"}
        assert result.json["img_url"] == image["image_url"]
        for comment in result.json["comments"]:
            assert set(comment) == COMMENT_KEYS
            assert comment["image_id"] == image["id"]
        seen += [comment["id"] for comment in result.json["comments"]]
        assert link_target(result.headers.get("link")) == result.json["next"]
        url = result.json["next"]
        assert pages <= 3

    assert seen == ids
    first = client.simulate_get(image["comm_url"], params={"limit": "2"})
    assert first.json["next"] == f"{image['comm_url']}?limit=2&after={ids[1]}"
    assert [c["text"] for c in first.json["comments"]] == ["comment 0", "comment 1"]
    last = client.simulate_get(image["comm_url"], params={"limit": "2", "after": str(ids[3])})
    assert last.json["next"] is None
    assert "link" not in last.headers


@pytest.mark.parametrize("query", ["limit=0", "limit=1001", "limit=abc", "after=abc", "after=-1", "after=1.5"])
def test_comment_list_rejects_bad_paging(client, image, query):
    body = assert_error(client.simulate_get(image["comm_url"], query_string=query), 400)
    assert query.split("=")[0] in body["errors"]


def test_comment_list_of_an_unknown_image_is_404(client, image):
    assert_error(client.simulate_get(f"/api/v1.0/images/{image['id'] + 1}/comments"), 404)


def test_a_comment_page_costs_the_same_number_of_queries_whatever_its_size(client, image, monkeypatch):
    for i in range(101):
        client.simulate_post(image["comm_url"], json={"text": f"c{i}"})
    client.simulate_get(image["comm_url"], params={"limit": "1"})
    database = db.database.obj
    execute_sql = type(database).execute_sql

    def count(limit: int) -> tuple[int, dict]:
        statements = []
        monkeypatch.setattr(
            database, "execute_sql", lambda sql, params=None: statements.append(sql) or execute_sql(database, sql, params)
        )
        try:
            page = client.simulate_get(image["comm_url"], params={"limit": str(limit)}).json
        finally:
            monkeypatch.undo()
        return len(statements), page

    small, small_page = count(1)
    large, large_page = count(100)
    assert len(small_page["comments"]) == 1 and small_page["next"]
    assert len(large_page["comments"]) == 100 and large_page["next"]
    assert 0 < small == large


# -- one comment -----------------------------------------------------------

def test_get_comment_returns_its_representation_without_the_edit_token(client, image):
    created = post_comment(client, image, "hello")

    result = client.simulate_get(created["comm_url"])

    assert result.status_code == 200
    assert result.json == {key: value for key, value in created.items() if key in COMMENT_KEYS}
    assert created["edit_token"] not in result.text


def test_get_unknown_comment_is_404(client, image):
    created = post_comment(client, image, "hello")
    assert_error(client.simulate_get(f"/api/v1.0/comments/{created['id'] + 1}"), 404)


@pytest.mark.parametrize("body", BODIES)
def test_put_replaces_the_text(client, image, body):
    created = post_comment(client, image, "first words")

    result = client.simulate_put(created["comm_url"], **body("  second thoughts "))

    assert result.status_code == 200, result.text
    changed = result.json
    assert changed["message"] == "Comment change"
    assert changed["text"] == changed["comm"] == "second thoughts"
    assert set(changed) == COMMENT_KEYS | {"message"}
    assert (changed["id"], changed["image_id"], changed["created_at"]) == (
        created["id"], image["id"], created["created_at"],
    )
    assert changed["updated_at"] >= changed["created_at"]
    assert stored_text(created["id"]) == "second thoughts"
    assert client.simulate_get(created["comm_url"]).json["text"] == "second thoughts"


@pytest.mark.parametrize(
    "payload", [{"text": ""}, {"text": "   "}, {"text": "x" * 10_001}, {"text": "a\x00b"}, {"text": 1}, {}],
)
def test_put_invalid_text_is_400_and_changes_nothing(client, image, payload):
    created = post_comment(client, image, "keep me")

    body = assert_error(client.simulate_put(created["comm_url"], json=payload), 400)

    assert "text" in body["errors"]
    assert stored_text(created["id"]) == "keep me"


def test_put_malformed_json_or_unsupported_type_changes_nothing(client, image):
    created = post_comment(client, image, "keep me")
    assert_error(client.simulate_put(created["comm_url"], body=b"{nope", content_type="application/json"), 400)
    assert_error(client.simulate_put(created["comm_url"], body=b"text=x", content_type="text/plain"), 415)
    assert stored_text(created["id"]) == "keep me"


def test_put_unknown_comment_is_404(client, image):
    created = post_comment(client, image, "hello")
    assert_error(client.simulate_put(f"/api/v1.0/comments/{created['id'] + 1}", json={"text": "x"}), 404)


def test_delete_comment_then_it_is_gone(client, image):
    created = post_comment(client, image, "bye")
    kept = post_comment(client, image, "stays")

    result = client.simulate_delete(created["comm_url"])

    assert result.status_code == 200
    assert result.json == {"message": "Comment delete", "id": created["id"]}
    assert stored_text(created["id"]) is None
    assert_error(client.simulate_get(created["comm_url"]), 404)
    assert_error(client.simulate_delete(created["comm_url"]), 404)
    assert_error(client.simulate_put(created["comm_url"], json={"text": "back?"}), 404)
    assert client.simulate_get(image["image_url"]).json["comments_count"] == 1
    assert [c["id"] for c in client.simulate_get(image["comm_url"]).json["comments"]] == [kept["id"]]


def test_the_comment_count_follows_creates_and_deletes(client, image):
    made = [client.simulate_post(image["comm_url"], json={"text": f"c{i}"}).json for i in range(3)]
    assert client.simulate_get(image["image_url"]).json["comments_count"] == 3
    assert client.simulate_delete(made[0]["comm_url"]).status_code == 200
    assert client.simulate_delete(made[0]["comm_url"]).status_code == 404
    assert client.simulate_put(made[1]["comm_url"], json={"text": "edited"}).status_code == 200
    listed = client.simulate_get("/api/v1.0/images").json["images"]
    assert [i["comments_count"] for i in listed if i["id"] == image["id"]] == [2]
