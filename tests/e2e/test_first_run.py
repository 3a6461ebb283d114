"""`tanya serve` on a fresh machine, as an operator runs it: the web chat answers on the base model within
seconds of start, the tuned model is built in the background and taken into use without a restart."""

from __future__ import annotations

import re
import shutil
import time
from pathlib import Path

from support.cli import KB_FILES, write_kb
from support.workspace import bundled_onnx_export

from evals.first_run import SWAPPED, ask, free_port, fresh_machine_env, start_server, stop_server

START_SECONDS = 180.0
UPGRADE_SECONDS = 300.0


def _wait_for_line(lines: list[str], needle: str, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if any(needle in line for line in lines):
            return True
        time.sleep(0.5)
    return False


def _chat(url: str, text: str, seconds: float = 30.0) -> str:
    """The web chat's reply, asked again while the server is still coming up."""
    deadline = time.monotonic() + seconds
    while (reply := ask(url, text)) is None:
        assert time.monotonic() < deadline, f"no reply from {url}"
        time.sleep(1.0)
    return reply


def test_serve_answers_at_once_and_takes_the_tuned_model_into_use_without_a_restart(tmp_path: Path) -> None:
    write_kb(tmp_path, dict(KB_FILES))
    export = bundled_onnx_export()  # the ONNX export is not what is tested here
    shutil.copytree(export, tmp_path / "work" / "models" / export.name)
    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    env = fresh_machine_env(tmp_path / "kb", tmp_path / "work", port, TANYA_TUNE_EPOCHS="1", TANYA_TUNE_ON="kb")
    server, lines = start_server(env, cwd=tmp_path)
    try:
        assert _wait_for_line(lines, f"Web app on {url}", START_SECONDS), "".join(lines)
        assert any("No tuned model on this machine yet" in line for line in lines)
        assert "*123#" in _chat(url, "gmn cek pulsa")  # answered on the base model while the tuned one is built
        assert _wait_for_line(lines, SWAPPED, UPGRADE_SECONDS), "".join(lines[-30:])
        assert "*123#" in _chat(url, "Bagaimana cara cek sisa pulsa?")  # the same server, now on the tuned model
        assert not any("Batches:" in line for line in lines)  # no per-batch noise in the log
        assert sum("Fine-tuning: step" in line for line in lines) <= 5  # a line a quarter
    finally:
        stop_server(server)
    # Stopped as by systemd. uvicorn cancels the streams chat clients left open once its graceful-shutdown time is up
    # and logs each cancellation with the stack it cut (our middleware is on it); any other traceback through Tanya's
    # code is a failure.
    tracebacks = re.split(r"(?=Traceback \(most recent call last\))", "".join(lines))[1:]
    ours = [
        t
        for t in tracebacks
        if re.search(r'File "[^"]*/(bot|ui)/', t) and "timeout graceful shutdown exceeded" not in t
    ]
    assert server.returncode in (0, 130) and not ours, "".join(lines[-30:])
    assert len(list((tmp_path / "work" / "models").glob("tuned-kb-*/tanya-tuning.json"))) == 1  # kept for next start
