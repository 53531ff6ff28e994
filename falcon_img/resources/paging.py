"""Keyset paging parameters (``limit``, ``after``) and the ``next`` link of a page."""

from __future__ import annotations

import dataclasses
from urllib.parse import urlencode

import falcon
from marshmallow import ValidationError

from ..models import MAX_ID
from ..schemas import page_query_schema


@dataclasses.dataclass(frozen=True)
class PageRequest:
    after: int
    limit: int


def page_request(req: falcon.Request) -> PageRequest:
    """The page a request asks for; a bad ``limit`` or ``after`` is a 400."""
    params = {name: req.get_param(name) for name in ("limit", "after") if req.get_param(name) is not None}
    loaded = page_query_schema.load(params)
    after = int(loaded["after"]) if loaded["after"] is not None else 0
    if after > MAX_ID:
        raise ValidationError({"after": ["Not a cursor from `next`."]})
    return PageRequest(after=after, limit=int(loaded["limit"]))


def next_link(resp: falcon.Response, path: str, page: PageRequest, items: list, more: bool) -> str | None:
    """The URL of the following page (also sent as a ``Link`` header), or None."""
    if not more or not items:
        return None
    url = f"{path}?{urlencode({'limit': page.limit, 'after': items[-1]['id']})}"
    # Written by hand: Falcon's append_link leaves the rel value unquoted, and
    # the contract (as RFC 8288's examples) shows `rel="next"`.
    resp.append_header("Link", f'<{url}>; rel="next"')
    return url
