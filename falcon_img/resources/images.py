"""The image collection (list, upload) and one image (get, delete)."""

from __future__ import annotations

import contextlib

import falcon

from .. import models
from ..ingest import ingest_spooled, remove_image, spool
from ..schemas import dump_image, image_url
from ..settings import Settings
from ..storage import Storage
from .bodies import media_type, read_part_text, require_length, require_whole_body
from .paging import next_link, page_request

#: Room for the multipart envelope around the file (boundaries, headers, a `name` field).
MULTIPART_OVERHEAD_BYTES = 64 * 1024
MAX_NAME_FIELD_BYTES = 4096


class ImageCollection:
    def __init__(self, storage: Storage, settings: Settings) -> None:
        self.storage = storage
        self.settings = settings

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        """List images, oldest first, one keyset page at a time.
        ---
        tags: [images]
        parameters:
          - limit
          - after
        responses:
          200:
            description: A page of images; `next` (and the `Link` header) point at the following page.
            headers:
              Link: {$ref: '#/components/headers/Link'}
            content:
              application/json:
                schema: {$ref: '#/components/schemas/ImageList'}
          400: {$ref: '#/components/responses/BadRequest'}
        """
        page = page_request(req)
        images, more = models.image_page(page.after, page.limit)
        resp.media = {
            "images": [dump_image(row) for row in images],
            "next": next_link(resp, req.path, page, images, more),
        }

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        """Upload an image (multipart/form-data, field `file`; optional `name`).
        ---
        tags: [images]
        security: [{}, {bearer: []}]
        requestBody:
          required: true
          content:
            multipart/form-data:
              schema:
                type: object
                required: [file]
                properties:
                  file:
                    type: string
                    format: binary
                    description: The image (JPEG, PNG, GIF or WebP, decided from its bytes).
                  name:
                    type: string
                    description: The image's name; defaults to the uploaded file's name, made safe.
        responses:
          201:
            description: The image was stored. `edit_token` is shown only here.
            headers:
              Location: {$ref: '#/components/headers/Location'}
            content:
              application/json:
                schema: {$ref: '#/components/schemas/ImageCreated'}
          400: {$ref: '#/components/responses/BadRequest'}
          401: {$ref: '#/components/responses/Unauthorized'}
          409:
            description: An image with this name exists; `image_url` points at it.
            content:
              application/json:
                schema: {$ref: '#/components/schemas/Conflict'}
          411: {$ref: '#/components/responses/LengthRequired'}
          413: {$ref: '#/components/responses/TooLarge'}
          415: {$ref: '#/components/responses/UnsupportedMediaType'}
        """
        if media_type(req) != falcon.MEDIA_MULTIPART:
            raise falcon.HTTPUnsupportedMediaType(
                description="Upload the image as multipart/form-data with the file in a field named `file`.",
            )
        require_length(req, self.settings.max_upload_bytes + MULTIPART_OVERHEAD_BYTES)
        with contextlib.ExitStack() as cleanup:
            spooled, filename, name = None, None, None
            for part in req.get_media():
                if part.name == "file" and spooled is None:
                    filename = part.filename
                    spooled = cleanup.enter_context(
                        spool(part.stream, self.settings.spool_dir, self.settings.max_upload_bytes)
                    )
                elif part.name == "name" and name is None:
                    name = read_part_text(part, MAX_NAME_FIELD_BYTES)
            if spooled is None:
                raise falcon.HTTPBadRequest(description="The form has no `file` field with the image.")
            require_whole_body(req)
            created = ingest_spooled(spooled, name or filename, storage=self.storage, settings=self.settings)
        resp.status = falcon.HTTP_201
        resp.location = image_url(created.image.id)
        resp.media = {
            **dump_image(models.image_row(created.image.id)),
            "edit_token": created.edit_token,
            "message": "Image added to collection",
        }


class ImageItem:
    #: The route parameter naming what an edit token of this resource may change.
    edit_token_target = "image_id"

    def __init__(self, storage: Storage, settings: Settings) -> None:
        self.storage = storage
        self.settings = settings

    def on_get(self, req: falcon.Request, resp: falcon.Response, image_id: int) -> None:
        """One image's metadata.
        ---
        tags: [images]
        responses:
          200:
            description: The image.
            content:
              application/json:
                schema: {$ref: '#/components/schemas/Image'}
          404: {$ref: '#/components/responses/NotFound'}
        """
        resp.media = dump_image(models.image_row(image_id))

    def on_delete(self, req: falcon.Request, resp: falcon.Response, image_id: int) -> None:
        """Delete the image, its comments, its variants and (when unshared) its file.
        ---
        tags: [images]
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
        if not remove_image(image_id, storage=self.storage):
            raise falcon.HTTPNotFound(description=f"There is no image {image_id}.")
        resp.media = {"message": "Image deleted", "id": image_id}
