"""An image's comments (list, add) and one comment (get, replace, delete)."""

from __future__ import annotations

import falcon
import peewee

from .. import models
from ..db import write_transaction
from ..models import Comment, Image
from ..schemas import comment_body_schema, comment_url, dump_comment, image_url
from .bodies import read_text_fields
from .paging import next_link, page_request

TEXT_FIELDS = ("text", "comm")


def _require_image(image_id: int) -> None:
    if not models.image_exists(image_id):
        raise falcon.HTTPNotFound(description=f"There is no image {image_id}.")


def _comment(comment_id: int) -> Comment:
    comment = Comment.get_or_none(Comment.id == comment_id)
    if comment is None:
        raise falcon.HTTPNotFound(description=f"There is no comment {comment_id}.")
    return comment


class CommentCollection:
    def on_get(self, req: falcon.Request, resp: falcon.Response, image_id: int) -> None:
        """List an image's comments, oldest first, one keyset page at a time.
        ---
        tags: [comments]
        parameters:
          - limit
          - after
        responses:
          200:
            description: A page of comments.
            headers:
              Link: {$ref: '#/components/headers/Link'}
            content:
              application/json:
                schema: {$ref: '#/components/schemas/CommentList'}
          400: {$ref: '#/components/responses/BadRequest'}
          404: {$ref: '#/components/responses/NotFound'}
        """
        page = page_request(req)
        _require_image(image_id)
        comments, more = models.comment_page(image_id, page.after, page.limit)
        resp.media = {
            "comments": [dump_comment(row) for row in comments],
            "img_url": image_url(image_id),
            "next": next_link(resp, req.path, page, comments, more),
        }

    def on_post(self, req: falcon.Request, resp: falcon.Response, image_id: int) -> None:
        """Add a comment to an image.
        ---
        tags: [comments]
        security: [{}, {bearer: []}]
        requestBody: CommentBody
        responses:
          201:
            description: The comment was added. `edit_token` is shown only here.
            headers:
              Location: {$ref: '#/components/headers/Location'}
            content:
              application/json:
                schema: {$ref: '#/components/schemas/CommentCreated'}
          400: {$ref: '#/components/responses/BadRequest'}
          401: {$ref: '#/components/responses/Unauthorized'}
          404: {$ref: '#/components/responses/NotFound'}
          411: {$ref: '#/components/responses/LengthRequired'}
          413: {$ref: '#/components/responses/TooLarge'}
          415: {$ref: '#/components/responses/UnsupportedMediaType'}
        """
        _require_image(image_id)
        loaded = comment_body_schema.load(read_text_fields(req, TEXT_FIELDS))
        edit_token = models.new_edit_token()
        try:
            with write_transaction():
                comment = Comment.create(
                    image=image_id, text=loaded["text"], edit_token_hash=models.hash_token(edit_token)
                )
                Image.update(comments_count=Image.comments_count + 1).where(Image.id == image_id).execute()
        except peewee.IntegrityError as exc:
            # The image was deleted between the check and the insert.
            raise falcon.HTTPNotFound(description=f"There is no image {image_id}.") from exc
        resp.status = falcon.HTTP_201
        resp.location = comment_url(comment.id)
        resp.media = {**dump_comment(models.comment_row(comment)), "edit_token": edit_token, "message": "Comment append"}


class CommentItem:
    #: The route parameter naming what an edit token of this resource may change.
    edit_token_target = "comment_id"

    def on_get(self, req: falcon.Request, resp: falcon.Response, comment_id: int) -> None:
        """One comment.
        ---
        tags: [comments]
        responses:
          200:
            description: The comment.
            content:
              application/json:
                schema: {$ref: '#/components/schemas/Comment'}
          404: {$ref: '#/components/responses/NotFound'}
        """
        resp.media = dump_comment(models.comment_row(_comment(comment_id)))

    def on_put(self, req: falcon.Request, resp: falcon.Response, comment_id: int) -> None:
        """Replace a comment's text.
        ---
        tags: [comments]
        security: [{}, {bearer: []}]
        requestBody: CommentBody
        responses:
          200:
            description: The updated comment.
            content:
              application/json:
                schema: {$ref: '#/components/schemas/CommentChanged'}
          400: {$ref: '#/components/responses/BadRequest'}
          401: {$ref: '#/components/responses/Unauthorized'}
          403: {$ref: '#/components/responses/Forbidden'}
          404: {$ref: '#/components/responses/NotFound'}
          411: {$ref: '#/components/responses/LengthRequired'}
          413: {$ref: '#/components/responses/TooLarge'}
          415: {$ref: '#/components/responses/UnsupportedMediaType'}
        """
        loaded = comment_body_schema.load(read_text_fields(req, TEXT_FIELDS))
        with write_transaction():
            comment = _comment(comment_id)
            comment.text = loaded["text"]
            comment.updated_at = models.utcnow()
            comment.save(only=[Comment.text, Comment.updated_at])
        resp.media = {**dump_comment(models.comment_row(comment)), "message": "Comment change"}

    def on_delete(self, req: falcon.Request, resp: falcon.Response, comment_id: int) -> None:
        """Delete a comment.
        ---
        tags: [comments]
        security: [{}, {bearer: []}]
        responses:
          200:
            description: Deleted.
            content:
              application/json:
                schema: {$ref: '#/components/schemas/Deleted'}
          401: {$ref: '#/components/responses/Unauthorized'}
          403: {$ref: '#/components/responses/Forbidden'}
          404: {$ref: '#/components/responses/NotFound'}
        """
        with write_transaction():
            comment = _comment(comment_id)
            comment.delete_instance()
            Image.update(comments_count=Image.comments_count - 1).where(Image.id == comment.image_id).execute()
        resp.media = {"message": "Comment delete", "id": comment_id}
