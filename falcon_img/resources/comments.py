"""An image's comments (list, add) and one comment (get, replace, delete)."""

from __future__ import annotations

import falcon
import peewee

from .. import models
from ..db import write_transaction
from ..models import Comment, Image
from ..schemas import comment_schema, comment_url, comments_schema, image_url
from .bodies import read_text_fields
from .paging import next_link, page_request

TEXT_FIELDS = ("text", "comm")


def _require_image(image_id: int) -> None:
    if not Image.select(Image.id).where(Image.id == image_id).exists():
        raise falcon.HTTPNotFound(description=f"There is no image {image_id}.")


def _comment(comment_id: int) -> Comment:
    comment = Comment.get_or_none(Comment.id == comment_id)
    if comment is None:
        raise falcon.HTTPNotFound(description=f"There is no comment {comment_id}.")
    return comment


class CommentCollection:
    def on_get(self, req: falcon.Request, resp: falcon.Response, image_id: int) -> None:
        page = page_request(req)
        _require_image(image_id)
        comments, more = models.comment_page(image_id, page.after, page.limit)
        resp.media = {
            "comments": comments_schema.dump(comments),
            "img_url": image_url(image_id),
            "next": next_link(resp, req.path, page, comments, more),
        }

    def on_post(self, req: falcon.Request, resp: falcon.Response, image_id: int) -> None:
        _require_image(image_id)
        loaded = comment_schema.load(read_text_fields(req, TEXT_FIELDS))
        edit_token = models.new_edit_token()
        try:
            comment = Comment.create(
                image=image_id, text=loaded["text"], edit_token_hash=models.hash_token(edit_token)
            )
        except peewee.IntegrityError as exc:
            # The image was deleted between the check and the insert.
            raise falcon.HTTPNotFound(description=f"There is no image {image_id}.") from exc
        resp.status = falcon.HTTP_201
        resp.location = comment_url(comment.id)
        resp.media = {**comment_schema.dump(comment), "edit_token": edit_token, "message": "Comment append"}


class CommentItem:
    #: The route parameter naming what an edit token of this resource may change.
    edit_token_target = "comment_id"

    def on_get(self, req: falcon.Request, resp: falcon.Response, comment_id: int) -> None:
        resp.media = comment_schema.dump(_comment(comment_id))

    def on_put(self, req: falcon.Request, resp: falcon.Response, comment_id: int) -> None:
        loaded = comment_schema.load(read_text_fields(req, TEXT_FIELDS))
        with write_transaction():
            comment = _comment(comment_id)
            comment.text = loaded["text"]
            comment.updated_at = models.utcnow()
            comment.save(only=[Comment.text, Comment.updated_at])
        resp.media = {**comment_schema.dump(comment), "message": "Comment change"}

    def on_delete(self, req: falcon.Request, resp: falcon.Response, comment_id: int) -> None:
        deleted = Comment.delete().where(Comment.id == comment_id).execute()
        if not deleted:
            raise falcon.HTTPNotFound(description=f"There is no comment {comment_id}.")
        resp.media = {"message": "Comment delete", "id": comment_id}
