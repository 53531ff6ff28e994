"""Rate limits per client address, shared by every worker through the `limits` library.

``FALCON_IMG_RATE_LIMIT`` (e.g. ``60/minute``) applies to every API request;
``FALCON_IMG_UPLOAD_RATE_LIMIT`` is a second, stricter budget for uploads. The
counters live where ``FALCON_IMG_RATE_LIMIT_STORAGE`` says: ``memory://``
(one process) or ``redis://host:port`` (every worker on every host). Answers
carry the IETF ``RateLimit-*`` headers; a refusal is a 429 with ``Retry-After``.
When the counter store is down, requests are let through (and logged): an
outage of Redis must not become an outage of the API.
"""

from __future__ import annotations

import logging
import math
import time

import falcon
import limits
import limits.storage
import limits.strategies

from .errors import APIError
from .settings import Settings, SettingsError

log = logging.getLogger(__name__)

#: Paths that load balancers poll: never limited.
EXEMPT_PATHS = frozenset({"/healthz"})
#: The pages' own script, style and icon files, served from memory: a budget
#: spent on them would only break the gallery, not spare the service anything.
EXEMPT_PREFIXES = ("/static/", "/docs/")
#: Seconds a request waits on Redis before it is let through (the URL's own
#: ``?socket_timeout=`` wins). Redis answers in a millisecond; one that does not
#: answer must not hold every request (and worker) for the client's default 5 s.
REDIS_TIMEOUT_SECONDS = 0.5


def client_address(req: falcon.Request, trusted_proxy_count: int) -> str:
    """The client's address: the peer's, or with N trusted proxies in front, the
    address the outermost trusted proxy saw (N-th from the right of X-Forwarded-For)."""
    if trusted_proxy_count > 0:
        forwarded = [hop.strip() for hop in (req.get_header("X-Forwarded-For") or "").split(",") if hop.strip()]
        if len(forwarded) >= trusted_proxy_count:
            return forwarded[-trusted_proxy_count]
    return req.remote_addr or "unknown"


class RateLimiter:
    """Falcon middleware: count each request against its client's budgets."""

    def __init__(self, settings: Settings) -> None:
        try:
            self.general = limits.parse(settings.rate_limit) if settings.rate_limit else None
            self.uploads = limits.parse(settings.upload_rate_limit) if settings.upload_rate_limit else None
        except ValueError as exc:
            raise SettingsError(f"cannot read the rate limit: {exc}") from exc
        self.trusted_proxy_count = settings.trusted_proxy_count
        options = {}
        if settings.rate_limit_storage.startswith(("redis://", "rediss://", "redis+unix://")):
            options = {"socket_timeout": REDIS_TIMEOUT_SECONDS, "socket_connect_timeout": REDIS_TIMEOUT_SECONDS}
        self.storage = (
            limits.storage.storage_from_string(settings.rate_limit_storage, **options) if self.enabled else None
        )
        self.limiter = limits.strategies.MovingWindowRateLimiter(self.storage) if self.enabled else None

    @property
    def enabled(self) -> bool:
        return self.general is not None or self.uploads is not None

    def budgets(self, req: falcon.Request) -> list[tuple[str, limits.RateLimitItem]]:
        found = []
        if self.general is not None:
            found.append(("all", self.general))
        if self.uploads is not None and req.method == "POST" and req.path.rstrip("/") == "/api/v1.0/images":
            found.append(("uploads", self.uploads))
        return found

    def process_request(self, req: falcon.Request, resp: falcon.Response) -> None:
        if (not self.enabled or req.path in EXEMPT_PATHS or req.path.startswith(EXEMPT_PREFIXES)
                or req.method == "OPTIONS"):
            return
        client = client_address(req, self.trusted_proxy_count)
        try:
            for scope, budget in self.budgets(req):
                allowed = self.limiter.hit(budget, scope, client)
                stats = self.limiter.get_window_stats(budget, scope, client)
                reset_in = max(0, math.ceil(stats.reset_time - time.time()))
                headers = {
                    "RateLimit-Limit": str(budget.amount),
                    "RateLimit-Remaining": str(max(0, stats.remaining)),
                    "RateLimit-Reset": str(reset_in),
                    "RateLimit-Policy": f"{budget.amount};w={budget.get_expiry()}",
                }
                if not allowed:
                    headers["Retry-After"] = str(max(1, reset_in))
                    raise APIError(
                        falcon.HTTP_429,
                        message=f"Too many requests: the limit is {budget}. Try again in {max(1, reset_in)} s.",
                        headers=headers,
                    )
                # The tightest budget is the one a client needs to know about.
                remaining = int(resp.get_header("RateLimit-Remaining") or 1 << 62)
                if stats.remaining <= remaining:
                    resp.set_headers(headers)
        except APIError:
            raise
        except Exception as exc:  # the counter store is down: fail open, loudly
            log.error("rate limit storage unavailable, request let through: %s", exc)
