"""The compiled dumpers send exactly what the marshmallow schemas define."""

from __future__ import annotations

import pytest
from marshmallow import Schema, fields

from falcon_img import db, models
from falcon_img.schemas import comment_schema, compile_dump, dump_comment, dump_image, image_schema

from support import image_bytes, upload


def test_image_rows_dump_exactly_as_the_schema_says(client):
    for number, name in enumerate(["a.png", "ü ñ?#%.png", 'quote"and space.png']):
        assert upload(client, image_bytes(color=(number, 9, 9)), name).status_code == 201
    client.simulate_post("/api/v1.0/images/2/comments", json={"text": "x"})
    with db.connection():
        rows, _ = models.image_page(0, 100)
        rows.append(models.image_row(2))
    assert len(rows) == 4
    for row in rows:
        assert dump_image(row) == image_schema.dump(row)
    assert dump_image(rows[1])["file_url"] == "/api/v1.0/file/%C3%BC%20%C3%B1%3F%23%25.png"


def test_comment_rows_dump_exactly_as_the_schema_says(client, image):
    for text in ("plain", "ünïcödé \u2028 <b>", "x" * 10_000):
        assert client.simulate_post(image["comm_url"], json={"text": text}).status_code == 201
    with db.connection():
        rows, _ = models.comment_page(image["id"], 0, 100)
        rows.append(models.comment_row(models.Comment.get_by_id(rows[0]["id"])))
    for row in rows:
        assert dump_comment(row) == comment_schema.dump(row)


def test_fields_it_cannot_compile_are_refused_up_front():
    class WithNested(Schema):
        inner = fields.Nested(image_schema.__class__)

    with pytest.raises(TypeError):
        compile_dump(WithNested())
