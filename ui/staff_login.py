"""The staff login on the web, around Gradio's own: sessions that end, logout by POST only, the client address for
the login throttle, and the editor role on uploads.

Gradio's login route passes no request to the password check and its logout is a GET (any link or image on any
page could log an officer out), so a small ASGI middleware on the mounted staff app handles these before Gradio's
routes see the request.
"""

from __future__ import annotations

import logging

import gradio as gr
from fastapi import FastAPI
from gradio.routes import App
from starlette._utils import get_route_path  # the path inside the mount, exactly as the router matches it
from starlette.requests import HTTPConnection
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount
from starlette.types import ASGIApp, Receive, Scope, Send

from bot.services.staff_accounts import CLIENT_ADDRESS, EDITOR, UNKNOWN_ADDRESS, StaffAccounts
from bot.settings import Settings
from ui.staff_sessions import StaffSessions

log = logging.getLogger(__name__)

LOGOUT_PATH = "/logout"
UPLOAD_PATH = "/gradio_api/upload"


def mounted_gradio_app(app: FastAPI, blocks: gr.Blocks) -> App:
    """The Gradio App that `gr.mount_gradio_app` made for `blocks` inside `app`."""
    for route in app.routes:
        mounted = getattr(route, "app", None) if isinstance(route, Mount) else None
        if isinstance(mounted, App) and mounted.get_blocks() is blocks:
            return mounted
    raise LookupError(f"{blocks.title!r} is not mounted in this app")


def session_cookies(gradio_app: App) -> tuple[str, str]:
    """The two cookies Gradio's login sets (the secure one, and a fallback for plain-HTTP browsers)."""
    return f"access-token-{gradio_app.cookie_id}", f"access-token-unsecure-{gradio_app.cookie_id}"


class StaffLoginGuard:
    """ASGI middleware on the staff app: POST-only logout, the editor role on uploads, the client address for the
    login check."""

    def __init__(
        self, app: ASGIApp, accounts: StaffAccounts, sessions: StaffSessions, cookies: tuple[str, str]
    ) -> None:
        self.app = app
        self._accounts = accounts
        self._sessions = sessions
        self._cookies = cookies

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = get_route_path(scope).rstrip("/")
        answer: Response | None = None  # set when this middleware answers and Gradio never sees the request
        if path == LOGOUT_PATH:
            answer = self._logout(HTTPConnection(scope), scope["method"])
        elif path == UPLOAD_PATH and scope["method"] == "POST":
            answer = self._refuse_upload(HTTPConnection(scope))
        if answer is not None:
            await answer(scope, receive, send)
            return
        client = scope.get("client")
        address = CLIENT_ADDRESS.set(client[0] if client else UNKNOWN_ADDRESS)
        try:
            await self.app(scope, receive, send)
        finally:
            CLIENT_ADDRESS.reset(address)

    def _user(self, request: HTTPConnection) -> str | None:
        # As Gradio reads it: the secure cookie first, else the plain-HTTP one.
        secure, plain = self._cookies
        token = request.cookies.get(secure) or request.cookies.get(plain)
        return self._sessions.get(token) if token else None

    def _logout(self, request: HTTPConnection, method: str) -> Response:
        # POST only; a POST from another site's page is refused before it gets here (ui/request_guard.py).
        if method != "POST":
            return JSONResponse({"detail": "Method Not Allowed"}, status_code=405, headers={"Allow": "POST"})
        user = self._user(request)
        if user is not None:
            self._sessions.forget_user(user)
        response = JSONResponse({"success": True})
        secure, plain = self._cookies
        response.delete_cookie(secure, path="/", secure=True, httponly=True, samesite="none")
        response.delete_cookie(plain, path="/", httponly=True)
        return response

    def _refuse_upload(self, request: HTTPConnection) -> Response | None:
        # Only the content editor takes files; an officer or analyst has no reason to put any on the server.
        if EDITOR in self._accounts.roles_of(self._user(request)):
            return None
        return JSONResponse({"detail": "Uploads need the editor role"}, status_code=403)


def install_staff_login(app: FastAPI, staff: gr.Blocks, accounts: StaffAccounts, settings: Settings) -> None:
    """Put expiring sessions and the login guard on the staff Blocks mounted in `app` (before the server starts)."""
    gradio_app = mounted_gradio_app(app, staff)
    sessions = StaffSessions(settings.web.session_hours * 3600, settings.web.session_idle_minutes * 60)
    gradio_app.tokens = sessions  # type: ignore[assignment]  # typed a dict; Gradio only uses it as a mapping
    gradio_app.add_middleware(
        StaffLoginGuard, accounts=accounts, sessions=sessions, cookies=session_cookies(gradio_app)
    )
    if missing := accounts.users_without_roles():
        log.warning(
            "Staff accounts without a role, who can log in but use nothing until TANYA_WEB_ROLES lists them: %s",
            ", ".join(missing),
        )
