"""Real servers for tests, on 127.0.0.1 in temporary folders: Debian's PostgreSQL and a `chroma run` server."""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from evals.harness import ChromaServer
from support.web_server import free_port


def _postgres_bin() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/postgres"))
    return Path(found[-1]).parent if found else None


def _as_postgres(command: list[str]) -> list[str]:
    """PostgreSQL refuses to run as root: as root, run it as Debian's `postgres` user."""
    return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else command


@contextmanager
def postgres_server() -> Iterator[str]:
    """A PostgreSQL server of its own (initdb in a temporary folder, loopback only), stopped and deleted after the
    block; yields the database URL of its `tanya` database."""
    bin_dir = _postgres_bin()
    if bin_dir is None:
        pytest.fail("PostgreSQL is not installed: `make system-test-deps` installs Debian's postgresql package")
    folder = Path(tempfile.mkdtemp(prefix="tanya-pg-"))  # not under pytest's root-only tmp: postgres must enter it
    data, sockets, log = folder / "data", folder / "sockets", folder / "server.log"
    sockets.mkdir()
    if os.geteuid() == 0:
        shutil.chown(folder, "postgres")
        shutil.chown(sockets, "postgres")
    port = free_port()
    pg_ctl = str(bin_dir / "pg_ctl")
    try:
        subprocess.run(
            _as_postgres([str(bin_dir / "initdb"), "-D", str(data), "-U", "tanya", "--auth=trust", "-E", "UTF8"]),
            check=True,
            capture_output=True,
            timeout=120,
        )
        options = f"-h 127.0.0.1 -p {port} -k {sockets} -c fsync=off"
        started = subprocess.run(
            _as_postgres([pg_ctl, "-D", str(data), "-l", str(log), "-o", options, "-w", "-t", "60", "start"]),
            capture_output=True,
            text=True,
            timeout=90,
        )
        if started.returncode != 0:
            pytest.fail(
                f"PostgreSQL did not start: {started.stderr}\n{log.read_text()[-3000:] if log.exists() else ''}"
            )
        subprocess.run(
            _as_postgres([str(bin_dir / "createdb"), "-h", "127.0.0.1", "-p", str(port), "-U", "tanya", "tanya"]),
            check=True,
            capture_output=True,
            timeout=60,
        )
        yield f"postgresql://tanya@127.0.0.1:{port}/tanya"
    finally:
        if data.exists():
            subprocess.run(
                _as_postgres([pg_ctl, "-D", str(data), "-m", "fast", "-w", "stop"]), capture_output=True, timeout=60
            )
        shutil.rmtree(folder, ignore_errors=True)


@contextmanager
def chroma_server(folder: Path) -> Iterator[int]:
    """A `chroma run` server on 127.0.0.1 storing in `folder`, up when its heartbeat answers; yields its port."""
    folder.mkdir(parents=True, exist_ok=True)
    try:
        server = ChromaServer(folder / "data", folder / "server.log")
    except RuntimeError as error:
        pytest.fail(str(error))
    try:
        yield server.port
    finally:
        server.stop()


def new_database(server_url: str, name: str) -> str:
    """A new, empty database on the PostgreSQL server of `server_url` (tests that must not see each other's rows)."""
    import psycopg

    with psycopg.connect(server_url, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}"')
        connection.execute(f'CREATE DATABASE "{name}"')
    return server_url.rsplit("/", 1)[0] + f"/{name}"
