"""The real web app in-process for tests: a private copy of the demo index, a Runtime, uvicorn on a free port."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
from fastapi import FastAPI

from bot.app.runtime import open_runtime
from bot.services.runtime import Runtime
from bot.services.staff_accounts import hash_password
from bot.settings import Settings
from evals.first_run import free_port as free_port  # one way to find a free port, for tests and benchmarks
from support.workspace import make_settings
from ui.app import WebServer

# Test-only accounts; the hashes are made at run time, so no password hash of any kind is committed.
EDITOR_LOGIN = ("eka", "editor-eka-secret")
OFFICER_LOGIN = ("budi", "petugas-budi-secret")
NO_ROLE_LOGIN = ("tamu", "tanpa-peran-secret")  # TANYA_WEB_ROLES does not list them


@dataclass(frozen=True)
class RunningWebApp:
    """A served web app: its base URL (ending in /), the staff URL, the Runtime it serves and the app itself."""

    url: str
    runtime: Runtime
    settings: Settings
    app: FastAPI

    @property
    def staff_url(self) -> str:
        return f"{self.url}staff/"

    @contextmanager
    def staff_http(self, login: tuple[str, str] = EDITOR_LOGIN) -> Iterator[httpx.Client]:
        """An HTTP client logged in to the staff app (Gradio's own login form)."""
        with httpx.Client(base_url=self.url.rstrip("/"), timeout=30) as client:
            client.post("/staff/login", data={"username": login[0], "password": login[1]}).raise_for_status()
            yield client

    def http(self) -> httpx.Client:
        """An HTTP client with no login (a stranger)."""
        return httpx.Client(base_url=self.url.rstrip("/"), timeout=30)


def web_settings(folder: Path) -> Settings:
    """Settings for a workspace, with one editor (every role), one officer (console only) and one user with no role."""
    return make_settings(
        folder,
        web_users={name: hash_password(password) for name, password in (EDITOR_LOGIN, OFFICER_LOGIN, NO_ROLE_LOGIN)},
        web_roles={EDITOR_LOGIN[0]: ["officer", "editor", "analyst"], OFFICER_LOGIN[0]: ["officer"]},
        web_host="127.0.0.1",
        web_port=free_port(),
    )


def copy_demo_workspace(template: Path, folder: Path) -> Path:
    """A private copy of the demo kb/ and its index (the served process owns and changes both)."""
    shutil.copytree(template / "kb", folder / "kb")
    shutil.copytree(template / "index", folder / "index")
    return folder


@contextmanager
def running_web_app(folder: Path) -> Iterator[RunningWebApp]:
    """Serve the web app over the workspace in `folder` until the block ends."""
    settings = web_settings(folder)
    runtime = open_runtime(settings)
    server = WebServer(runtime)
    try:
        url = server.start()
        app = server._server.config.app  # the app uvicorn serves
        assert isinstance(app, FastAPI)
        yield RunningWebApp(url, runtime, settings, app)
    finally:
        server.stop()
        runtime.close()
