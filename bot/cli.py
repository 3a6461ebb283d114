"""The `tanya` command: ingest, ask, serve, eval. Heavy imports stay inside each command (start-up time)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from bot.settings import Settings, get_settings


class CliError(Exception):
    """A problem to show the user as one clear message (exit code 1)."""


def _settings_with(args: argparse.Namespace) -> Settings:
    settings = get_settings()
    updates = {}
    if getattr(args, "store", None):
        updates["store_dir"] = Path(args.store)
    return settings.model_copy(update=updates) if updates else settings


def _kb_root(paths: list[Path], settings: Settings) -> Path:
    """Sources are named relative to the configured kb/ folder, or to the folder given when it lies elsewhere."""
    kb_dir = settings.kb_dir.resolve()
    if all(p.resolve().is_relative_to(kb_dir) for p in paths):
        return kb_dir
    first = paths[0]
    return first if first.is_dir() else first.parent


def command_ingest(args: argparse.Namespace) -> int:
    from bot.embedder import load_embedder
    from bot.knowledge_index import IndexInconsistentError, KnowledgeIndex
    from ingest.knowledge_base import load_knowledge_base
    from ingest.sync import sync_index

    settings = _settings_with(args)
    paths = [Path(p) for p in args.paths] or [settings.kb_dir]
    kb = load_knowledge_base(paths, _kb_root(paths, settings))  # validate everything before touching the index
    with KnowledgeIndex(settings, load_embedder(settings), writable=True) as index:
        if args.rebuild:
            index.reset()
        else:
            try:
                index.check_consistency()
            except IndexInconsistentError as error:
                raise CliError(f"{error}\n(`tanya ingest --rebuild` recreates the index from the kb/ files.)") from None
        summary = sync_index(index, kb, show_progress=not args.quiet)
        print(
            f"Indexed {len(kb.entries)} FAQ entries and {len(kb.chunks)} document chunks into {index.location}: {summary}"
        )
    return 0


def command_ask(args: argparse.Namespace) -> int:
    from bot.engine import AnswerEngine
    from bot.messages import Question

    settings = _settings_with(args)
    engine = AnswerEngine.open(settings)
    try:
        if engine.index.count() == 0:
            raise CliError(f"The index at {engine.index.location} is empty. Run `tanya ingest` first.")
        if args.question:
            text = " ".join(args.question)
            reply = engine.answer(Question(text=text, channel="cli"))
            if args.json:
                print(json.dumps(reply.as_json(text), ensure_ascii=False))
            else:
                print(reply.text)
                if reply.source:
                    print(f"\n[{reply.outcome.value}] source: {reply.source.ref} (confidence {reply.confidence:.2f})")
                else:
                    print(f"\n[{reply.outcome.value}] ({reply.reason}, confidence {reply.confidence:.2f})")
            return 0
        for line in sys.stdin:
            text = line.rstrip("\n")
            if not text.strip():
                continue
            reply = engine.answer(Question(text=text, channel="cli"))
            print(json.dumps(reply.as_json(text), ensure_ascii=False), flush=True)
        return 0
    finally:
        engine.close()


def command_serve(args: argparse.Namespace) -> int:
    from bot.server import serve

    settings = _settings_with(args)
    if args.port:
        settings = settings.model_copy(update={"web_port": args.port})
    serve(settings, web=args.web or not args.telegram, telegram=args.telegram or not args.web)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="tanya", description="Tanya: an FAQ chatbot for telecom customer service.")
    commands = parser.add_subparsers(dest="command", required=True)

    ingest = commands.add_parser("ingest", help="sync the index with the knowledge-base files")
    ingest.add_argument("paths", nargs="*", metavar="PATH", help="files or folders (default: the kb/ folder)")
    ingest.add_argument("--store", metavar="DIR", help="index folder (default from settings)")
    ingest.add_argument("--rebuild", action="store_true", help="drop the index and rebuild it from the files")
    ingest.add_argument("--quiet", action="store_true", help="no progress bar")
    ingest.set_defaults(run=command_ingest)

    ask = commands.add_parser("ask", help="answer a question, or JSONL questions from standard input")
    ask.add_argument("question", nargs="*", metavar="QUESTION")
    ask.add_argument("--store", metavar="DIR", help="index folder (default from settings)")
    ask.add_argument("--json", action="store_true", help="print the reply as a JSON object")
    ask.set_defaults(run=command_ask)

    serve = commands.add_parser("serve", help="run the web app and, with TELEGRAM_BOT_TOKEN, the Telegram bot")
    serve.add_argument("--web", action="store_true", help="only the web app")
    serve.add_argument("--telegram", action="store_true", help="only the Telegram bot")
    serve.add_argument("--store", metavar="DIR", help="index folder (default from settings)")
    serve.add_argument("--port", type=int, help="web port (default 7860)")
    serve.set_defaults(run=command_serve)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `tanya` console script."""
    from bot.knowledge_index import IndexInconsistentError, StoreBusyError
    from bot.masking import configure_logging
    from ingest.problems import KnowledgeBaseError

    args = build_parser().parse_args(argv)
    settings = get_settings()
    token = settings.telegram_bot_token.get_secret_value() if settings.telegram_bot_token else ""
    configure_logging(settings.log_level if args.command == "serve" else "WARNING", secrets=(token,))
    try:
        return int(args.run(args))
    except (CliError, KnowledgeBaseError, StoreBusyError, IndexInconsistentError) as error:
        print(f"tanya: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
