"""The web app: the public customer chat at `/` and the staff page (login) at `/staff/`, on one FastAPI server.

Both Gradio apps share the process's Runtime, so an editor's save is answered with at once by the chat and by
the Telegram bot running beside them. Neither serves files from the project: `/gradio_api/file=` is limited to
Gradio's own upload folder (staff, after login) and the project's folders are blocked outright.
"""

from __future__ import annotations

import logging
import os
import tempfile
import threading
import time
from pathlib import Path

import gradio as gr
import uvicorn
from fastapi import FastAPI

from bot.services.runtime import Runtime
from bot.services.staff_accounts import StaffAccounts
from ui import concurrency
from ui.customer_chat import CustomerChat
from ui.page_style import CSS, theme
from ui.request_guard import install_origin_rules
from ui.staff_login import install_staff_login
from ui.staff_page import build_staff_page, login_message

log = logging.getLogger(__name__)

STAFF_PATH = "/staff"
START_TIMEOUT_SECONDS = 30.0
STOP_TIMEOUT_SECONDS = 10.0


def upload_folder() -> Path:
    """Where Gradio keeps uploads (GRADIO_TEMP_DIR), the only folder its file route may serve from."""
    return Path(os.environ.get("GRADIO_TEMP_DIR") or Path(tempfile.gettempdir()) / "gradio").resolve()


def blocked_folders(runtime: Runtime) -> list[str]:
    """Project folders `/gradio_api/file=` must never serve: the working folder, kb/, the index, models, the database."""
    settings = runtime.settings
    folders = {
        Path.cwd(),
        settings.kb_dir,
        settings.index.store_dir,
        settings.model.cache_dir,
        settings.labelled_calibration_file.parent,
    }
    if settings.database_url.startswith("sqlite:///"):
        folders.add(Path(settings.database_url.removeprefix("sqlite:///")).parent)
    uploads = upload_folder()
    # A folder holding Gradio's upload folder cannot be blocked without breaking uploads; its own files stay
    # unserved anyway because Gradio only serves its upload folder and nothing else is allowed.
    return sorted(str(f.resolve()) for f in folders if not uploads.is_relative_to(f.resolve()))


def build_web_app(runtime: Runtime, accounts: StaffAccounts | None = None) -> FastAPI:
    """The FastAPI app with the staff page mounted at /staff (login) and the customer chat at / (public)."""
    accounts = accounts or StaffAccounts.from_settings(runtime.settings)
    if not accounts.configured:
        log.warning(
            "No staff accounts: the staff area stays locked until TANYA_WEB_USERS is set (tanya hash-password)."
        )
    blocked = blocked_folders(runtime)
    app = FastAPI(title="Tanya", docs_url=None, redoc_url=None, openapi_url=None)
    install_origin_rules(app, runtime.settings.web.allowed_origins)
    common = {
        "server_name": runtime.settings.web.host,
        "server_port": runtime.settings.web.port,
        "footer_links": ["api"],
        "run_history": False,  # customers' chats must not be kept in the browser's storage
        "ssr_mode": False,
        "mcp_server": False,
        "theme": theme(),
        "css": CSS,
    }
    # Gradio summarises its past events (a pandas table of up to 10,000) after every event, for a monitoring page
    # Tanya does not serve: 4-14 ms of CPU an answer, which put 100 concurrent chats' p95 from 0.99 s to 2.42 s
    # (evals/README.md, 2026-12-06). Read when a queue is made; an operator's own value wins.
    os.environ.setdefault("GRADIO_ANALYTICS_CACHE_FREQUENCY", str(10**9))
    # api_open=False: the /run routes, which skip the queue and its concurrency limits, are refused; API callers
    # go through /call and the queue like the pages do.
    staff = build_staff_page(runtime, accounts).queue(default_concurrency_limit=concurrency.CONSOLE, api_open=False)
    gr.mount_gradio_app(
        app,
        staff,
        path=STAFF_PATH,
        auth=accounts.verify,
        auth_message=login_message(accounts),
        blocked_paths=blocked,
        max_file_size=runtime.settings.web.upload_max_bytes,
        **common,
    )
    install_staff_login(app, staff, accounts, runtime.settings)
    chat = CustomerChat(runtime).build().queue(default_concurrency_limit=concurrency.CHAT, api_open=False)
    # The chat accepts no files, so it serves none either (not even other apps' uploads).
    gr.mount_gradio_app(
        app,
        chat,
        path="",
        blocked_paths=[*blocked, str(upload_folder())],
        max_file_size=1,
        **common,
    )
    return app


class WebServer:
    """Runs the web app with uvicorn: in the foreground (`tanya serve`) or in a thread (tests)."""

    def __init__(self, runtime: Runtime, host: str | None = None, port: int | None = None) -> None:
        self.host = host or runtime.settings.web.host
        self.port = port if port is not None else runtime.settings.web.port
        proxies = runtime.settings.web.trusted_proxies
        config = uvicorn.Config(
            build_web_app(runtime),
            host=self.host,
            port=self.port,
            # Only a configured proxy may name the client (the limits count per client address): uvicorn otherwise
            # trusts X-Forwarded-For from 127.0.0.1, which any local process could forge.
            proxy_headers=bool(proxies),
            forwarded_allow_ips=proxies or None,
            log_level="warning",
            log_config=None,  # uvicorn's loggers propagate to the root handler, whose formatter masks
            lifespan="on",
            timeout_graceful_shutdown=5,
        )
        self._server = uvicorn.Server(config)
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host = "127.0.0.1" if self.host in ("0.0.0.0", "") else self.host
        return f"http://{host}:{self.port}/"

    def run(self) -> None:
        """Serve until interrupted (Ctrl-C / SIGTERM)."""
        log.info("Web app on %s (customer chat) and %sstaff/ (staff)", self.url, self.url)
        self._server.run()

    def start(self) -> str:
        """Serve in a background thread; returns the URL once the server accepts connections."""
        self._thread = threading.Thread(target=self._server.run, name="tanya-web", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"the web server did not start on {self.url}")
            time.sleep(0.05)
        return self.url

    def stop(self) -> None:
        """Stop a server started with `start`."""
        self._server.should_exit = True
        self._server.force_exit = True  # open event streams (heartbeats) would otherwise hold shutdown for seconds
        if self._thread is not None:
            self._thread.join(timeout=STOP_TIMEOUT_SECONDS)
