"""`tanya serve`: fail fast without a Telegram token, sync kb/ before serving, skip a missing Telegram channel."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import make_settings

from bot import server
from bot.cli import CliError
from bot.messages import Outcome, Question
from bot.runtime import Runtime

TINY_FAQ = """\
faq:
  - id: cek-pulsa
    question: Bagaimana cara cek pulsa?
    answer: Tekan *123*1# lalu panggil.
  - id: cek-kuota
    question: Bagaimana cara cek kuota internet?
    answer: Tekan *123*2# lalu panggil.
"""


def test_telegram_only_needs_a_token(tmp_path: Path) -> None:
    with pytest.raises(CliError, match="TELEGRAM_BOT_TOKEN"):
        server.serve(make_settings(tmp_path), web=False, telegram=True)


def test_the_index_is_synced_with_kb_before_serving(tmp_path: Path) -> None:
    (tmp_path / "kb" / "faq").mkdir(parents=True)
    (tmp_path / "kb" / "faq" / "pulsa.yaml").write_text(TINY_FAQ, encoding="utf-8")
    runtime = Runtime.open(make_settings(tmp_path))
    try:
        assert runtime.engine.index.count() == 0  # a fresh clone: no index yet
        server._sync_knowledge_base(runtime)
        reply = runtime.engine.answer(Question("bagaimana cara cek kuota internet?", "1", "web"))
        assert reply.outcome is Outcome.ANSWER and reply.text == "Tekan *123*2# lalu panggil."
    finally:
        runtime.close()


def test_a_missing_telegram_channel_is_skipped(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(server, "_TELEGRAM_RUNNER_MODULES", ("bot.no_such_channel",))
    assert server._telegram_runner(object()) is None  # type: ignore[arg-type]
