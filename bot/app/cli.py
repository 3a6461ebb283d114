"""The `tanya` command: ingest, ask, serve, eval. Heavy imports stay inside each command (start-up time)."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime
from pathlib import Path

from bot.app.cli_error import CliError
from bot.core.messages import Channel
from bot.settings import CALIBRATION_FILE_NAME, TUNED_PREFIX, Settings, get_settings, is_tuned


def _settings_with(args: argparse.Namespace) -> Settings:
    settings = get_settings()
    updates = {}
    if getattr(args, "store", None):
        updates["store_dir"] = Path(args.store)
    return settings.replaced(**updates) if updates else settings


def _kb_root(paths: list[Path], settings: Settings) -> Path:
    """Sources are named relative to the configured kb/ folder, or to the folder given when it lies elsewhere."""
    kb_dir = settings.kb_dir.resolve()
    if all(p.resolve().is_relative_to(kb_dir) for p in paths):
        return kb_dir
    first = paths[0]
    return first if first.is_dir() else first.parent


def _model_built(settings: Settings) -> Settings:
    """Tune the settings' `tuned:` model first when this machine has not built it (once; loading never trains)."""
    from ingest.tuning import ensure_tuned_model

    if is_tuned(settings.model.embedding_model):
        ensure_tuned_model(settings)
    return settings


def command_ingest(args: argparse.Namespace) -> int:
    from bot.engine import AnswerEngine
    from bot.retrieval.embedder import load_embedder
    from bot.retrieval.knowledge_index import IndexInconsistentError, KnowledgeIndex
    from ingest.knowledge_base import load_knowledge_base
    from ingest.sync import sync_index

    settings = _settings_with(args)
    paths = [Path(p) for p in args.paths] or [settings.kb_dir]
    kb = load_knowledge_base(paths, _kb_root(paths, settings))  # validate everything before touching the index
    _model_built(settings)
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
        # The bot reads the index as it will answer from it: a knowledge base without a labelled calibration (or
        # changed since its self-calibration) is calibrated now and the result kept with the index.
        engine = AnswerEngine(settings, index)
        engine.warm_up()
        engine.wait_for_calibration()
    return 0


def command_ask(args: argparse.Namespace) -> int:
    from bot.core.messages import Question
    from bot.engine import AnswerEngine

    settings = _model_built(_settings_with(args))
    engine = AnswerEngine.open(settings)
    try:
        if engine.index.count() == 0:
            raise CliError(f"The index at {engine.index.location} is empty. Run `tanya ingest` first.")
        if args.question:
            text = " ".join(args.question)
            reply = engine.answer(Question(text=text, channel=Channel.CLI))
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
            reply = engine.answer(Question(text=text, channel=Channel.CLI))
            print(json.dumps(reply.as_json(text), ensure_ascii=False), flush=True)
        return 0
    finally:
        engine.close()


def command_serve(args: argparse.Namespace) -> int:
    from bot.app.server import serve

    settings = _settings_with(args)
    if args.port:
        settings = settings.replaced(web_port=args.port)
    serve(settings, web=args.web or not args.telegram, telegram=args.telegram or not args.web)
    return 0


def command_settings(args: argparse.Namespace) -> int:
    """Print every setting as `TANYA_NAME=value  # what it does`, by group; secrets are never printed."""
    from pydantic import SecretStr

    from bot.core.masking import Masker, secrets_of
    from bot.settings import ENV_PREFIX, FLAT_NAME_OF, GROUPS, environment_variable

    settings = get_settings()
    masker = Masker(secrets_of(settings))

    def shown(value: object) -> str:
        if isinstance(value, SecretStr):
            return "(set, not shown)" if value.get_secret_value() else ""
        if value is None:
            return ""
        if isinstance(value, list | dict):
            return json.dumps(value)
        return masker.mask(str(value))

    print("# Tanya's settings: environment variables (or .env), with the values this process reads.")
    for name, info in type(settings).model_fields.items():
        if name not in GROUPS:
            print(f"{ENV_PREFIX}{name.upper()}={shown(getattr(settings, name))}  # {info.description}")
    for group, model in GROUPS.items():
        print(f"\n# {group}: {(model.__doc__ or '').strip()}")
        for field, info in model.model_fields.items():
            value = getattr(getattr(settings, group), field)
            print(f"{environment_variable(FLAT_NAME_OF[(group, field)])}={shown(value)}  # {info.description}")
    return 0


def command_hash_password(args: argparse.Namespace) -> int:
    """Print a bcrypt hash for a staff password (read without echo, or from standard input) for TANYA_WEB_USERS."""
    from bot.services.staff_accounts import MIN_PASSWORD_LENGTH, hash_password

    if sys.stdin.isatty():
        import getpass

        password = getpass.getpass("Password: ")
        if getpass.getpass("Repeat password: ") != password:
            raise CliError("the two passwords differ")
    else:
        password = sys.stdin.readline().rstrip("\r\n")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise CliError(f"the password must have at least {MIN_PASSWORD_LENGTH} characters")
    hashed = hash_password(password)
    if args.user:
        print(json.dumps({args.user: hashed}))
    else:
        print(hashed)
    return 0


def command_eval(args: argparse.Namespace) -> int:
    from evals.runner import (
        DEMO,
        HELDOUT,
        choose_targets,
        custom_target,
        operator_targets,
        run_evaluation,
        sparse_heldout_target,
    )

    settings = get_settings()
    out = Path(args.out) if args.out else Path("evals/reports") / datetime.now().strftime("%Y%m%d-%H%M%S")
    if args.set or args.kb:
        if not (args.set and args.kb):
            raise CliError("--set FILE and --kb DIR go together: a labelled set and the knowledge base it asks about")
        questions, kb_dir = Path(args.set), Path(args.kb)
        if not questions.is_file():
            raise CliError(f"no labelled set at {questions}")
        if not kb_dir.is_dir():
            raise CliError(f"no knowledge-base folder at {kb_dir}")
        targets = [custom_target(questions, kb_dir)]
    else:
        operators = operator_targets()
        sparse = sparse_heldout_target(out / "work")
        targets = {
            "demo": [DEMO],
            "heldout": [HELDOUT, sparse],
            "operators": operators,
            "choose": [sparse, *choose_targets()],
            "all": [DEMO, HELDOUT, sparse, *operators],
        }[args.sets]
        if args.calibrate and targets[0] is not DEMO:
            raise CliError("--calibrate fits the demo set's calibration; run it with --sets demo or all, or --set/--kb")
    command = "tanya eval" + (f" --set {args.set} --kb {args.kb}" if args.set else f" --sets {args.sets}")
    command += " --calibrate" * args.calibrate + " --own-model" * args.own_model
    try:
        results, intent_summary, report = run_evaluation(
            settings,
            out,
            targets=targets,
            calibrate=args.calibrate,
            target_precision=args.target_precision,
            ablate=not args.no_ablation,
            progress=not args.quiet,
            command=command,
            own_model=args.own_model,
        )
    except ValueError as error:
        raise CliError(str(error)) from None
    for result in results:
        m = result.metrics
        print(
            f"{result.name}: hit@1 {m.hit_at_1:.1%}, MRR@5 {m.mrr_at_5:.3f}, precision {m.answer_precision or 0:.1%}, "
            f"coverage {m.coverage or 0:.1%}, wrong {m.wrong_answer_rate or 0:.1%}, handoff recall "
            f"{m.handoff_recall or 0:.1%}, privacy leaks {m.privacy_leaks}, threshold {result.threshold:.2f}"
        )
        for criterion, passed, measured in result.bar:
            print(f"  bar: {criterion}: {measured} {'ok' if passed else 'MISSED'}")
    for line in intent_summary:
        print(f"intents: {line}")
    if args.calibrate:
        print(f"Calibration recorded in {targets[0].kb_dir / CALIBRATION_FILE_NAME}")
    print(f"Report: {report}")
    missed = [c for r in results for c, passed, _ in r.bar if not passed]
    return 1 if args.check_bar and missed else 0


def command_tune(args: argparse.Namespace) -> int:
    from bot.retrieval.tuned_models import read_manifest, tuned_model_folder
    from ingest.tuning import build_tuned_model, ensure_tuned_model, log_progress

    settings = get_settings()
    updates: dict[str, object] = {}
    if args.kb:
        updates["embedding_model"] = TUNED_PREFIX + str(Path(args.kb))
    elif not is_tuned(settings.model.embedding_model):
        print(
            f"TANYA_EMBEDDING_MODEL is '{settings.model.embedding_model}', not a tuned model. "
            f"Set it to '{TUNED_PREFIX}<kb folder>' (the default is '{TUNED_PREFIX}kb') or pass --kb DIR.",
            file=sys.stderr,
        )
        return 2
    if args.epochs:
        updates["tune_epochs"] = args.epochs
    settings = settings.replaced(**updates)
    if args.if_missing and read_manifest(ready := tuned_model_folder(settings)) is not None:
        print(f"Tuned model ready: {ready}")
        return 0
    from tqdm import tqdm

    with tqdm(desc="Fine-tuning", unit="step", disable=args.quiet, file=sys.stderr) as bar:

        def report(step: int, total: int, loss: float) -> None:
            bar.total = total
            bar.update(step - bar.n)
            bar.set_postfix(loss=f"{loss:.3f}")

        progress = log_progress if args.quiet else report  # quiet: a log line every quarter instead of a bar
        try:
            # --if-missing goes through the same lock as first use, so a process tuning meanwhile is waited for.
            folder = (
                ensure_tuned_model(settings, progress) if args.if_missing else build_tuned_model(settings, progress)
            )
        except ValueError as error:
            raise CliError(f"cannot fine-tune: {error}") from None
    print(
        f"Fine-tuned {settings.tuning.base_model} for {args.kb or settings.model.embedding_model.removeprefix(TUNED_PREFIX)} "
        f"(learning {settings.tuning.on.value}): {folder}"
    )
    if args.kb:
        print(f"Use it with: export TANYA_EMBEDDING_MODEL={TUNED_PREFIX}{Path(args.kb).resolve()}")
    if not args.if_missing:  # a first build has no older index to replace
        print(
            "A running `tanya serve` switches to it within a minute; other indexes built with the previous weights "
            "need `tanya ingest --rebuild` (and `tanya eval --calibrate` for a labelled calibration)."
        )
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

    evaluate = commands.add_parser("eval", help="evaluate answer quality on the labelled sets and write a report")
    evaluate.add_argument(
        "--sets",
        choices=["demo", "heldout", "operators", "choose", "all"],
        default="all",
        help="which sets (default all; choose: the sets sparse-knowledge-base settings are chosen on)",
    )
    evaluate.add_argument("--set", metavar="FILE", help="a labelled set (CSV or YAML) to score instead, with --kb")
    evaluate.add_argument("--kb", metavar="DIR", help="the knowledge-base folder --set asks about")
    evaluate.add_argument(
        "--calibrate",
        action="store_true",
        help="fit and record the calibration on the first set (the demo set, or --set) in its kb folder",
    )
    evaluate.add_argument("--target-precision", type=float, default=0.95, help="precision --calibrate aims for")
    evaluate.add_argument("--out", metavar="DIR", help="report folder (default evals/reports/<time>)")
    evaluate.add_argument("--check-bar", action="store_true", help="exit 1 when a set misses its bar")
    evaluate.add_argument("--no-ablation", action="store_true", help="skip the retrieval ablation")
    evaluate.add_argument(
        "--own-model",
        action="store_true",
        help="answer each set but the demo with the model tuned for its own knowledge base (on what "
        "TANYA_TUNE_ON names), as an operator who replaced kb/ gets (tunes it first when the model cache lacks it: "
        "minutes a set)",
    )
    evaluate.add_argument("--quiet", action="store_true", help="no progress bar")
    evaluate.set_defaults(run=command_eval)

    tune = commands.add_parser(
        "tune", help="fine-tune the embedding model (on the shipped corpus, or also the kb's phrasings: TANYA_TUNE_ON)"
    )
    tune.add_argument(
        "--kb", metavar="DIR", help="knowledge base to tune for (default: the one TANYA_EMBEDDING_MODEL names)"
    )
    tune.add_argument("--epochs", type=int, help="passes over the phrasings (default TANYA_TUNE_EPOCHS, 3)")
    tune.add_argument("--quiet", action="store_true", help="no progress bar")
    tune.add_argument(
        "--if-missing", action="store_true", help="only build the model when it has not been built yet (make test)"
    )
    tune.set_defaults(run=command_tune)

    listing = commands.add_parser("settings", help="list every setting, its value (secrets hidden) and what it does")
    listing.set_defaults(run=command_settings)

    hash_password = commands.add_parser(
        "hash-password",
        help="make a bcrypt hash of a staff password for TANYA_WEB_USERS (password from a prompt or stdin)",
    )
    hash_password.add_argument("--user", help="print a JSON object {USER: hash} ready for TANYA_WEB_USERS")
    hash_password.set_defaults(run=command_hash_password)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `tanya` console script."""
    from bot.core.masking import configure_logging, secrets_of
    from bot.retrieval.knowledge_index import IndexInconsistentError, StoreBusyError
    from ingest.problems import KnowledgeBaseError

    args = build_parser().parse_args(argv)
    settings = get_settings()
    configure_logging(settings.log_level if args.command == "serve" else "WARNING", secrets=secrets_of(settings))
    try:
        return int(args.run(args))
    except (CliError, KnowledgeBaseError, StoreBusyError, IndexInconsistentError) as error:
        print(f"tanya: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
