"""`tanya serve`: one process that owns the index and runs the web app and, when configured, the Telegram bot.

Both channels share one Runtime, so an editor's save in the web app is answered with on Telegram at once.
On start the index is synced with the kb/ files (only changed texts are embedded), so a fresh clone serves the
demo knowledge base and offline edits are picked up. A maintenance thread closes idle tickets.
"""

from __future__ import annotations

import logging
import signal
import threading
from typing import TYPE_CHECKING

from bot.app.cli_error import CliError
from bot.app.runtime import open_runtime
from bot.settings import Settings

if TYPE_CHECKING:
    from bot.retrieval.knowledge_index import KnowledgeIndex
    from bot.services.runtime import Runtime
    from bot.telegram.runner import TelegramRunner

log = logging.getLogger(__name__)


def serve(settings: Settings, *, web: bool, telegram: bool) -> None:
    """Run the selected channels over one engine until interrupted."""

    token = settings.telegram.bot_token.get_secret_value() if settings.telegram.bot_token else ""
    if telegram and not web and not token:
        raise CliError("`tanya serve --telegram` needs TELEGRAM_BOT_TOKEN (the token from BotFather).")
    from bot.services.model_retune import RetuneScheduler
    from bot.services.model_upgrade import serving_settings
    from bot.settings import is_tuned

    # The base model on a fresh machine while the tuned one is built; the previous generation mid-re-tune.
    serving = serving_settings(settings)
    _rebuild_if_the_model_changed(serving)
    runtime = open_runtime(serving)
    stop = threading.Event()
    runner: TelegramRunner | None = None
    # systemd and `docker stop` send SIGTERM: stop as cleanly as on Ctrl-C (Telegram stopped, store released).
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        _sync_knowledge_base(runtime)
        if is_tuned(settings.model.embedding_model):  # built, and kept current with editors' changes, in the background
            runtime.retunes = RetuneScheduler(settings, runtime).start()
        maintenance = threading.Thread(
            target=runtime.maintenance.run, args=(stop,), name="tanya-maintenance", daemon=True
        )
        maintenance.start()
        if settings.index.chroma_host:  # other processes write the same index: replicas, `tanya ingest`
            threading.Thread(
                target=runtime.engine.follow,
                args=(stop, settings.index.follow_seconds),
                name="tanya-index-follower",
                daemon=True,
            ).start()
        if telegram and token:
            from bot.telegram.runner import TelegramRunner

            runner = TelegramRunner(runtime)
            runner.start()
            log.info("Telegram channel started")
        elif telegram:
            log.info("TELEGRAM_BOT_TOKEN is not set: the Telegram channel is off")
        if web:
            from ui.app import WebServer

            WebServer(runtime).run()
        else:
            while not stop.wait(1.0):  # Ctrl-C interrupts the wait
                pass
    finally:
        stop.set()
        if runner is not None:
            runner.stop()
        runtime.close()


def _rebuild_if_the_model_changed(settings: Settings) -> None:
    """After a model change (or a re-tune) the old vectors are useless: empty the index so the sync re-embeds all,
    once kb/ proved valid. While a kb/ file is broken, the index's own texts are re-embedded instead, so it keeps
    serving what it held (the problem is logged; the sync after the fix catches up)."""
    from bot.retrieval.embedder import load_embedder
    from bot.retrieval.knowledge_index import KnowledgeIndex
    from bot.services.model_upgrade import STOPGAP_SUFFIX
    from ingest.knowledge_base import load_knowledge_base
    from ingest.problems import KnowledgeBaseError

    if not settings.kb_dir.is_dir():
        return  # nothing to rebuild from: keep the index (the engine will say it needs a rebuild)
    with KnowledgeIndex(settings, load_embedder(settings), writable=True) as index:
        if not settings.index.collection.endswith(STOPGAP_SUFFIX):  # the tuned model is here: the stopgap goes
            index.drop_collection(settings.index.collection + STOPGAP_SUFFIX)
        other = index.other_model()
        if other is not None:
            log.warning("The index was built with another model (%s); re-embedding the knowledge base", other)
            try:
                load_knowledge_base([settings.kb_dir], settings.kb_dir)
            except KnowledgeBaseError as error:
                log.error("%s\nRe-embedding the index's own texts instead, to keep serving them.", error)
                _reembed(index)
                return
            index.reset()


def _reembed(index: KnowledgeIndex) -> None:
    """Embed the index's records again with its settings' model, keeping their texts, metadata and the index facts."""
    from bot.retrieval.embedder import model_identity

    records = list(index.records().values())
    info = {key: value for key, value in index.info().items() if not key.startswith("hnsw:")}
    vectors = index.embedder.embed_documents([r.text for r in records])  # before the reset: a failure loses nothing
    index.reset()
    index.add(records, vectors)
    index.set_info(**{**info, "embedding_model": model_identity(index.settings)})


def _sync_knowledge_base(runtime: Runtime) -> None:
    """Bring the index in line with the kb/ folder before serving (a no-op when nothing changed)."""
    from ingest.knowledge_base import load_knowledge_base
    from ingest.problems import KnowledgeBaseError
    from ingest.sync import sync_index

    kb_dir = runtime.settings.kb_dir
    if not kb_dir.is_dir():
        log.warning("No knowledge base at %s; serving the index as it is", kb_dir)
        return
    try:
        kb = load_knowledge_base([kb_dir], kb_dir)
    except KnowledgeBaseError as error:  # serve the last good index; the editor or a fixed file syncs later
        log.error("%s\nServing the index as it was.", error)
        return
    with runtime.engine.content_lock:
        summary = sync_index(runtime.engine.index, kb, show_progress=False)
        runtime.engine.refresh()
    log.info("Index in line with %s: %s", kb_dir, summary)


def _interrupt(signum: int, _frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")
