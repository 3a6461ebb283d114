"""First-run benchmark: `tanya serve` on a machine without an index or a tuned model, timed as an operator sees it.

    python -m evals.first_run [--kb kb] [--wait-for-tuned]

Starts the server on an empty var/ folder (a temporary one: no index, no tuned model, no ONNX export), and prints
the seconds until the web chat answers "gmn cara cek pulsa" and, with --wait-for-tuned, until the tuned model is
answering (the same server, no restart in between). Add the install time for a fresh clone.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

QUESTION = "gmn cara cek pulsa"
TIMEOUT_SECONDS = 3600.0
SWAPPED = "Now answering with tuned:"  # what the server logs when the tuned model takes over


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def fresh_machine_env(kb: Path, work: Path, port: int, **overrides: str) -> dict[str, str]:
    """The environment of `tanya serve` on kb/ with everything else (index, models, database) new in `work`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TANYA_") and k != "TELEGRAM_BOT_TOKEN"}
    env.update(
        TANYA_KB_DIR=str(kb.resolve()),
        TANYA_EMBEDDING_MODEL=f"tuned:{kb.resolve()}",
        TANYA_STORE_DIR=str(work / "index"),
        TANYA_DATABASE_URL=f"sqlite:///{work / 'tanya.db'}",
        TANYA_MODEL_CACHE_DIR=str(work / "models"),
        TANYA_WEB_PORT=str(port),
        TANYA_WEB_STATE_KEY_FILE=str(work / "web-state.key"),
        ANONYMIZED_TELEMETRY="False",
    )
    env.update(overrides)
    return env


def start_server(env: dict[str, str], cwd: Path | None = None) -> tuple[subprocess.Popen[str], list[str]]:
    """`tanya serve --web` in a child process, with the lines of its log as they come."""
    server = subprocess.Popen(
        [sys.executable, "-m", "bot.app.cli", "serve", "--web"],
        cwd=cwd,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines: list[str] = []
    assert server.stderr is not None
    stderr = server.stderr
    threading.Thread(target=lambda: lines.extend(iter(stderr.readline, "")), daemon=True).start()
    return server, lines


def stop_server(server: subprocess.Popen[Any]) -> None:
    """Stop it as systemd does (SIGTERM), killing it when it does not stop within 30 s."""
    server.send_signal(signal.SIGTERM)
    try:
        server.wait(30)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait()


def ask(url: str, text: str) -> str | None:
    """The web chat's reply, or None while the server is not up."""
    from gradio_client import Client

    try:
        client = Client(url, verbose=False)
    except Exception:  # not up yet
        return None
    try:
        return str(client.predict(text, api_name="/chat"))
    finally:
        client.close()  # an open client holds the server's graceful shutdown up


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kb", default="kb", help="knowledge-base folder (default kb)")
    parser.add_argument("--expect", default="*123*1#", help="text the right answer contains")
    parser.add_argument("--wait-for-tuned", action="store_true", help="also wait until the tuned model answers")
    args = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="tanya-first-run-"))
    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    started = time.monotonic()
    server, lines = start_server(fresh_machine_env(Path(args.kb), work, port))
    try:
        answer = None
        while answer is None and time.monotonic() - started < TIMEOUT_SECONDS and server.poll() is None:
            answer = ask(url, QUESTION)
            time.sleep(0 if answer else 1.0)
        print(
            f"first answer to {QUESTION!r}: {time.monotonic() - started:.0f} s, right: {args.expect in (answer or '')}"
        )
        if args.wait_for_tuned:
            while not any(SWAPPED in line for line in lines) and time.monotonic() - started < TIMEOUT_SECONDS:
                time.sleep(2.0)
            tuned = time.monotonic() - started
            print(f"tuned model answering: {tuned:.0f} s, right: {args.expect in (ask(url, QUESTION) or '')}")
    finally:
        stop_server(server)
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
