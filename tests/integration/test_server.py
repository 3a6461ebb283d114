"""`tanya serve`: fail fast without a Telegram token, sync kb/ before serving, skip a missing Telegram channel."""

from __future__ import annotations

from pathlib import Path

import pytest
from support.workspace import make_settings

from bot.app import server
from bot.app.cli_error import CliError
from bot.app.runtime import open_runtime
from bot.core.messages import Outcome, Question

# These tests answer with, or index with, the demo's tuned model: built first when this machine lacks it.
pytestmark = pytest.mark.usefixtures("tuned_model")

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
    runtime = open_runtime(make_settings(tmp_path))
    try:
        assert runtime.engine.index.count() == 0  # a fresh clone: no index yet
        server._sync_knowledge_base(runtime)
        reply = runtime.engine.answer(Question("bagaimana cara cek kuota internet?", "1", "web"))
        assert reply.outcome is Outcome.ANSWER and reply.text == "Tekan *123*2# lalu panggil."
    finally:
        runtime.close()


def test_a_broken_kb_file_keeps_the_last_good_index(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    (tmp_path / "kb" / "faq").mkdir(parents=True)
    faq = tmp_path / "kb" / "faq" / "pulsa.yaml"
    faq.write_text(TINY_FAQ, encoding="utf-8")
    runtime = open_runtime(make_settings(tmp_path))
    try:
        server._sync_knowledge_base(runtime)
        faq.write_text("faq:\n  - id: [broken\n", encoding="utf-8")
        server._sync_knowledge_base(runtime)  # logs the problem instead of stopping the server
        reply = runtime.engine.answer(Question("bagaimana cara cek kuota internet?", "1", "web"))
        assert reply.outcome is Outcome.ANSWER and reply.text == "Tekan *123*2# lalu panggil."
        assert "pulsa.yaml" in caplog.text and "malformed YAML" in caplog.text
    finally:
        runtime.close()


@pytest.mark.parametrize(
    "broken",
    [
        pytest.param(False, id="valid-kb"),
        pytest.param(
            True,
            id="broken-kb-file",
            marks=pytest.mark.fault(
                "a model change with a broken kb/ file", "the index keeps serving what it held; the problem is logged"
            ),
        ),
    ],
)
def test_an_index_built_with_another_model_is_re_embedded_on_start(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, broken: bool
) -> None:
    from bot.retrieval.embedder import model_identity
    from bot.retrieval.knowledge_index import IndexInconsistentError
    from bot.settings import BUNDLED_MODEL

    (tmp_path / "kb" / "faq").mkdir(parents=True)
    faq = tmp_path / "kb" / "faq" / "pulsa.yaml"
    faq.write_text(TINY_FAQ, encoding="utf-8")
    old = open_runtime(make_settings(tmp_path, embedding_model=BUNDLED_MODEL))
    server._sync_knowledge_base(old)
    old.close()
    if broken:  # kb/ cannot replace the old vectors now: the index must not be emptied
        faq.write_text(TINY_FAQ + "  - id: [broken\n", encoding="utf-8")
    settings = make_settings(tmp_path)  # the default tuned model: the stored vectors are now useless
    with pytest.raises(IndexInconsistentError, match="was built with the model"):
        open_runtime(settings).close()
    server._rebuild_if_the_model_changed(settings)
    runtime = open_runtime(settings)
    try:
        server._sync_knowledge_base(runtime)
        assert runtime.engine.index.info()["embedding_model"] == model_identity(settings)
        reply = runtime.engine.answer(Question("bagaimana cara cek kuota internet?", "1", "web"))
        assert reply.outcome is Outcome.ANSWER and reply.text == "Tekan *123*2# lalu panggil."
        assert "built with another model" in caplog.text
        if broken:
            assert "faq/pulsa.yaml:9: malformed YAML" in caplog.text and "index's own texts" in caplog.text
    finally:
        runtime.close()
