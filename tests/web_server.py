"""The real web app in-process for tests: a private copy of the demo index, a Runtime, uvicorn on a free port."""

from __future__ import annotations

import shutil
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
from conftest import make_settings

from bot.runtime import Runtime
from bot.settings import Settings
from ui.app import WebServer
from ui.staff_accounts import hash_password

# Test-only accounts; the hashes are made at run time, so no password hash of any kind is committed.
EDITOR_LOGIN = ("eka", "editor-eka-secret")
OFFICER_LOGIN = ("budi", "petugas-budi-secret")


@dataclass(frozen=True)
class RunningWebApp:
    """A served web app: its base URL (ending in /), the staff URL and the Runtime it serves."""

    url: str
    runtime: Runtime
    settings: Settings

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


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def web_settings(folder: Path) -> Settings:
    """Settings for a workspace, with one editor (every role) and one officer (console only)."""
    return make_settings(
        folder,
        web_users={EDITOR_LOGIN[0]: hash_password(EDITOR_LOGIN[1]), OFFICER_LOGIN[0]: hash_password(OFFICER_LOGIN[1])},
        web_roles={OFFICER_LOGIN[0]: ["officer"]},
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
    runtime = Runtime.open(settings)
    server = WebServer(runtime)
    try:
        url = server.start()
        yield RunningWebApp(url, runtime, settings)
    finally:
        server.stop()
        runtime.close()
