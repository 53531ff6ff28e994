"""Who may write: API keys, per-resource edit tokens, and open mode (API.md, Access).

Reads are always public. With no API keys configured every write is allowed,
as in the original app. With keys configured, a write needs
``Authorization: Bearer <credential>``: an API key allows any write; the
``edit_token`` a POST returned allows PUT and DELETE of that one resource.
The credential is checked before anything else about the request, so a
refused write says nothing about whether the target exists, and changes
nothing.
"""

from __future__ import annotations

import hashlib
import hmac
import logging

import falcon

from .models import Comment, Image, hash_token
from .settings import Settings

log = logging.getLogger(__name__)

WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
#: What an edit token is the hash of, by the route parameter that names the target.
TOKEN_OWNERS = {"image_id": Image, "comment_id": Comment}


def bearer_credential(req: falcon.Request) -> str | None:
    header = req.get_header("Authorization")
    if not header:
        return None
    scheme, _, credential = header.strip().partition(" ")
    credential = credential.strip()
    if scheme.lower() != "bearer" or not credential or len(credential) > 512:
        return None
    return credential


class AccessControl:
    """Falcon middleware enforcing API.md's access rules on every write."""

    def __init__(self, settings: Settings) -> None:
        # Keys are compared as digests so every comparison takes the same time
        # whatever the key lengths (hmac.compare_digest on equal-length values).
        self._key_digests = [hashlib.sha256(key.encode()).digest() for key in settings.api_keys if key]
        self.anonymous_posts = settings.anonymous_posts

    @property
    def enabled(self) -> bool:
        return bool(self._key_digests)

    def is_api_key(self, credential: str) -> bool:
        digest = hashlib.sha256(credential.encode()).digest()
        matched = False
        for key_digest in self._key_digests:
            # No early exit: the time taken does not say which key, if any, matched.
            matched |= hmac.compare_digest(digest, key_digest)
        return matched

    def process_resource(self, req: falcon.Request, resp: falcon.Response, resource, params: dict) -> None:
        if not self.enabled or req.method not in WRITE_METHODS or resource is None:
            return
        credential = bearer_credential(req)
        if credential is not None and self.is_api_key(credential):
            return
        if req.method == "POST" and self.anonymous_posts:
            return
        if credential is None:
            raise self._unauthorized("This write needs `Authorization: Bearer <API key or edit token>`.")
        owner = self._token_owner(credential)
        if owner is None:
            raise self._unauthorized("The credential is not a valid API key or edit token.")
        target = self._target(req, resource, params)
        if target != owner:
            raise falcon.HTTPForbidden(description="This edit token belongs to another resource.")

    @staticmethod
    def _target(req: falcon.Request, resource, params: dict) -> tuple[str, int] | None:
        """The resource a PUT or DELETE acts on (the only writes a token may make)."""
        if req.method not in ("PUT", "DELETE"):
            return None
        name = getattr(resource, "edit_token_target", None)
        if name in params:
            return (name, params[name])
        return None

    @staticmethod
    def _token_owner(credential: str) -> tuple[str, int] | None:
        token_hash = hash_token(credential)
        for name, model in TOKEN_OWNERS.items():
            found = model.select(model.id).where(model.edit_token_hash == token_hash).first()
            if found is not None:
                return (name, found.id)
        return None

    @staticmethod
    def _unauthorized(message: str) -> falcon.HTTPUnauthorized:
        return falcon.HTTPUnauthorized(description=message, challenges=['Bearer realm="falcon-img"'])
