"""Who may call the web app from a browser: its own pages, and the other sites the settings name.

Gradio's session cookie is SameSite=None, so a page on any site an officer visits could send it along with a
request. Two rules close that: CORS answers only the allowed origins (so no other page can read a response), and a
request that changes something (any method but GET, HEAD and OPTIONS) from any other origin is refused outright (so
no other page can act, for example save an FAQ entry, even without reading the answer).
"""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import urlsplit

from fastapi import FastAPI
from starlette.datastructures import Headers
from starlette.middleware.cors import CORSMiddleware
from starlette.responses import PlainTextResponse
from starlette.types import ASGIApp, Receive, Scope, Send

_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_DEFAULT_PORTS = {"http": 80, "https": 443}
REFUSED = "Permintaan dari situs lain ditolak. / Requests from other sites are refused."


def _origin_key(scheme: str, host: str) -> tuple[str, int] | None:
    """(host name, port) of a scheme and `host[:port]`, the default port filled in; None when unreadable."""
    try:
        parts = urlsplit(f"{scheme}://{host}")
        port = parts.port or _DEFAULT_PORTS.get(scheme)
    except ValueError:
        return None
    if not parts.hostname or port is None:
        return None
    return parts.hostname.lower(), port


def is_allowed_origin(origin: str, host_header: str, allowed: Iterable[str]) -> bool:
    """True when `origin` is the site's own (the Host the request was sent to) or one of `allowed`."""
    normalised = origin.rstrip("/").lower()
    if normalised in {a.rstrip("/").lower() for a in allowed}:
        return True
    try:
        parts = urlsplit(normalised)
    except ValueError:
        return False
    if parts.scheme not in _DEFAULT_PORTS:  # "null" (a sandboxed or file page) and other schemes are never our own
        return False
    own = _origin_key(parts.scheme, host_header)
    return own is not None and _origin_key(parts.scheme, parts.netloc) == own


class ForeignOriginGuard:
    """Refuses requests that change something when a browser says they come from another site's page."""

    def __init__(self, app: ASGIApp, allowed_origins: Iterable[str] = ()) -> None:
        self.app = app
        self.allowed = tuple(allowed_origins)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] not in _SAFE_METHODS:
            headers = Headers(scope=scope)
            origin = headers.get("origin")
            if origin is not None and not is_allowed_origin(origin, headers.get("host", ""), self.allowed):
                await PlainTextResponse(REFUSED, status_code=403)(scope, receive, send)
                return
        await self.app(scope, receive, send)


def install_origin_rules(app: FastAPI, allowed_origins: Iterable[str]) -> None:
    """CORS for the allowed origins only, on the parent app (Gradio's own CORS then stands aside), and the guard."""
    allowed = list(allowed_origins)
    app.add_middleware(
        CORSMiddleware,
        allow_origins=allowed,
        allow_credentials=True,
        allow_methods=["GET", "POST"],
        allow_headers=["*"],
    )
    app.add_middleware(ForeignOriginGuard, allowed_origins=allowed)
