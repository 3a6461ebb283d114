"""Tanya served as an operator runs it, for the benchmarks: `tanya serve` in a child process over a private workspace.

A workspace is a folder with a copy of a knowledge base, and the index, database and web-state key made next to it;
the models come from the shared model cache (var/models), so nothing is tuned or exported twice. The first start
embeds the knowledge base into the workspace's index; a kept workspace is reused as it is (the sync is a no-op).
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from evals.first_run import free_port as free_port
from evals.first_run import stop_server

REPO = Path(__file__).resolve().parent.parent
DEMO_KB = REPO / "kb"
START_TIMEOUT_SECONDS = 600.0  # loading the model and embedding the knowledge base, on a busy two-core machine


@dataclass(frozen=True)
class Workspace:
    """A folder of its own for one served Tanya: kb/ (a copy), index/, tanya.db and the web-state key."""

    folder: Path
    model: str  # the embedding model, e.g. tuned:/path/to/kb
    model_cache: Path

    @classmethod
    def prepare(cls, folder: Path, model: str, model_cache: Path, kb: Path = DEMO_KB) -> Workspace:
        """The workspace in `folder`, with a copy of `kb` unless it holds one already (then it is reused)."""
        folder.mkdir(parents=True, exist_ok=True)
        if not (folder / "kb").is_dir():
            shutil.copytree(kb, folder / "kb")
        return cls(folder.resolve(), model, model_cache.resolve())

    @property
    def database(self) -> Path:
        return self.folder / "tanya.db"

    def env(self, **overrides: str) -> dict[str, str]:
        """The environment of `tanya serve` over this workspace: no TANYA_ setting or token from the caller's."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("TANYA_") and k != "TELEGRAM_BOT_TOKEN"}
        env.update(
            TANYA_KB_DIR=str(self.folder / "kb"),
            TANYA_STORE_DIR=str(self.folder / "index"),
            TANYA_DATABASE_URL=f"sqlite:///{self.database}",
            TANYA_MODEL_CACHE_DIR=str(self.model_cache),
            TANYA_EMBEDDING_MODEL=self.model,
            TANYA_RETUNE_AFTER_CHANGES="0",  # never a re-tune in the shared model cache during a benchmark
            TANYA_WEB_HOST="127.0.0.1",
            TANYA_WEB_STATE_KEY_FILE=str(self.folder / "web-state.key"),
            HF_HUB_OFFLINE="1",
            ANONYMIZED_TELEMETRY="False",
        )
        env.update(overrides)
        return env

    def query(self, sql: str, *args: object) -> list[tuple[object, ...]]:
        """Rows of a read-only query on the workspace's database (while the server writes to it)."""
        with sqlite3.connect(f"file:{self.database}?mode=ro", uri=True, timeout=30) as db:
            return list(db.execute(sql, args).fetchall())


# `tanya serve`, with the web app's concurrency limits (ui/concurrency.py) changed first when an experiment asks.
_SERVE = """
import sys
import ui.concurrency
for name, value in {limits}.items():
    setattr(ui.concurrency, name, value)
from bot.app.cli import main
sys.exit(main(sys.argv[1:]))
"""


class ServedTanya:
    """`tanya serve ARGS` as a child process over a workspace, its log kept in the workspace."""

    def __init__(
        self,
        workspace: Workspace,
        args: list[str],
        env: dict[str, str],
        name: str = "serve",
        concurrency: dict[str, int] | None = None,
    ) -> None:
        self.workspace = workspace
        self.args = args
        self.env = env
        self.concurrency = concurrency or {}  # experiments: ui.concurrency limits changed in the served process
        self.log = workspace.folder / f"{name}.log"
        self.process: subprocess.Popen[bytes] | None = None
        self.started_in = 0.0

    def start(self, ready: Callable[[], bool], timeout: float = START_TIMEOUT_SECONDS) -> float:
        """Start it and wait until `ready()`; returns the seconds that took."""
        started = time.monotonic()
        with self.log.open("wb") as output:
            self.process = subprocess.Popen(
                [sys.executable, "-c", _SERVE.format(limits=repr(self.concurrency)), "serve", *self.args],
                cwd=self.workspace.folder,
                env=self.env,
                stdout=output,
                stderr=subprocess.STDOUT,
            )
        while not ready():
            if self.process.poll() is not None:
                raise RuntimeError(f"tanya serve stopped: {self.log_tail()}")
            if time.monotonic() - started > timeout:
                self.stop()
                raise RuntimeError(f"tanya serve was not ready within {timeout:.0f} s: {self.log_tail()}")
            time.sleep(0.2)
        self.started_in = time.monotonic() - started
        return self.started_in

    def cpu_seconds(self) -> float:
        """User + system CPU time of the server process so far (all its threads)."""
        assert self.process is not None
        return process_cpu_seconds(self.process.pid)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            stop_server(self.process)

    def log_tail(self, chars: int = 3000) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")[-chars:]


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a running process, from /proc (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks  # utime, stime (fields 14 and 15 of stat)


class CpuMeter:
    """CPU seconds spent by this process and by a server process between `start()` and `stop()`, and the wall time."""

    def __init__(self, server: ServedTanya) -> None:
        self.server = server
        self._lock = threading.Lock()
        self.client = self.served = self.wall = self.load = 0.0

    def __enter__(self) -> CpuMeter:
        self._client0 = time.process_time()
        self._served0 = self.server.cpu_seconds()
        self._wall0 = time.perf_counter()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.client = time.process_time() - self._client0
        self.served = self.server.cpu_seconds() - self._served0
        self.wall = time.perf_counter() - self._wall0
        self.load = os.getloadavg()[0]

    def summary(self) -> str:
        wall = max(self.wall, 1e-9)
        return (
            f"CPU: server {self.served:.1f} s ({self.served / wall:.2f} cores), "
            f"benchmark client {self.client:.1f} s ({self.client / wall:.2f} cores) over {self.wall:.1f} s; "
            f"machine load average {self.load:.1f} (1 min, {os.cpu_count()} cores)"
        )


CHROMA = Path(sys.executable).parent / "chroma"
CHROMA_START_SECONDS = 90.0


def chroma_heartbeat(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v2/heartbeat", timeout=2) as response:
            return bool(response.status == 200)
    except OSError:
        return False


class ChromaServer:
    """`chroma run` storing in `folder`, on 127.0.0.1, until `stop()` (the benchmarks' and the tests' server);
    RuntimeError, with the end of its log, when it does not answer in time."""

    def __init__(self, folder: Path, log_file: Path) -> None:
        self.port = free_port()
        self._log = log_file.open("w")
        self.process = subprocess.Popen(
            [str(CHROMA), "run", "--path", str(folder), "--host", "127.0.0.1", "--port", str(self.port)],
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env={"ANONYMIZED_TELEMETRY": "False", "PATH": "/usr/bin:/bin"},
        )
        deadline = time.monotonic() + CHROMA_START_SECONDS
        while not chroma_heartbeat(self.port):
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"chroma run did not start:\n{log_file.read_text()[-2000:]}")
            time.sleep(0.2)

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)
        self._log.close()


def percentile(values: Sequence[float], fraction: float) -> float:
    """The nearest-rank percentile every benchmark reports; 0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]
