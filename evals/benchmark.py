"""Speed and memory figures (a benchmark that prints, never a test that asserts): `python -m evals.benchmark`.

Prints ingest throughput (texts embedded a second), per-question latency with the model loaded (p50/p95), the cold
start of one `tanya ask` process, and peak memory; `--ingest-only`: ingest and the embedder alone on the same texts.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bot.core.messages import Question
from bot.engine import AnswerEngine
from bot.retrieval.embedder import load_embedder
from bot.retrieval.knowledge_index import KnowledgeIndex
from bot.settings import BUNDLED_MODEL, Settings, get_settings, is_tuned
from evals.harness import percentile
from evals.labelled_set import load_labelled_set
from ingest.knowledge_base import load_knowledge_base
from ingest.sync import chunk_records, faq_records, sync_index
from ingest.tuning import ensure_tuned_model

REPO = Path(__file__).resolve().parent.parent


def bench_ingest(settings: Settings, kb_dir: Path) -> tuple[int, int, float]:
    """Entries and chunks, texts embedded and seconds to ingest `kb_dir` into an empty store (model already
    exported; opening the store and loading the model are counted)."""
    kb = load_knowledge_base([kb_dir], kb_dir)
    started = time.perf_counter()
    with KnowledgeIndex(settings, load_embedder(settings), writable=True) as index:
        summary = sync_index(index, kb, show_progress=False)
    return len(kb.entries) + len(kb.chunks), summary.embedded, time.perf_counter() - started


def bench_embedder(settings: Settings, kb_dir: Path) -> tuple[int, float]:
    """Texts and seconds to embed every text of `kb_dir` in one `embed_documents` call, the model loaded: the
    embedder alone, which ingest should keep up with."""
    kb = load_knowledge_base([kb_dir], kb_dir)
    texts = [r.text for e in kb.entries for r in faq_records(e)] + [r.text for c in kb.chunks for r in chunk_records(c)]
    embedder = load_embedder(settings)
    embedder.embed_documents(texts[:8])  # loads the model
    started = time.perf_counter()
    embedder.embed_documents(texts)
    return len(texts), time.perf_counter() - started


def bench_questions(settings: Settings, questions: list[str], rounds: int) -> list[float]:
    """Per-question wall time of `AnswerEngine.answer`, model loaded, after one warm-up pass."""
    engine = AnswerEngine.open(settings)
    try:
        for text in questions:
            engine.answer(Question(text=text))
        times = []
        for _ in range(rounds):
            for text in questions:
                started = time.perf_counter()
                engine.answer(Question(text=text))
                times.append(time.perf_counter() - started)
        return times
    finally:
        engine.close()


# The child reports its own high-water mark (VmHWM, per address space) as it exits: ru_maxrss from wait4 also
# counts the parent's pages the child carried until exec, which made a 330 MiB `tanya ask` read as 940 MiB.
_CHILD = """
import atexit, sys
def _report_peak():
    with open("/proc/self/status") as status:
        peak = next(line.split()[1] for line in status if line.startswith("VmHWM:"))
    sys.stderr.write("TANYA_PEAK_KIB " + peak + "\\n")
atexit.register(_report_peak)
from bot.app.cli import main
sys.exit(main(sys.argv[1:]))
"""


def bench_cold_start(store: Path, runs: int) -> tuple[list[float], int]:
    """Wall time of complete `tanya ask` processes, and the largest peak RSS (KiB) among them."""
    env = {**os.environ, "TANYA_STORE_DIR": str(store)}
    times, peak = [], 0
    for _ in range(runs):
        started = time.perf_counter()
        finished = subprocess.run(
            [sys.executable, "-c", _CHILD, "ask", "--json", "gmn cara cek pulsa"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            check=False,
        )
        times.append(time.perf_counter() - started)
        reported = [line.split()[1] for line in finished.stderr.splitlines() if line.startswith("TANYA_PEAK_KIB ")]
        if finished.returncode != 0 or not reported:
            raise RuntimeError(f"tanya ask failed during the benchmark: {finished.stderr[-500:]}")
        peak = max(peak, int(reported[-1]))
    return times, peak


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=3, help="passes over the demo questions for latency")
    parser.add_argument("--cold-runs", type=int, default=3, help="separate `tanya ask` processes to time")
    parser.add_argument("--ingest-only", action="store_true", help="print the ingest and embedder-alone figures only")
    parser.add_argument("--model", help="embedding model (default from settings), e.g. " + BUNDLED_MODEL)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        settings = get_settings().replaced(store_dir=Path(folder) / "index", chroma_host=None)
        if args.model:
            settings = settings.replaced(embedding_model=args.model)
        if is_tuned(settings.model.embedding_model):
            ensure_tuned_model(settings)  # tuning is its own step, not part of any figure
        load_embedder(settings)  # the one-off ONNX export is not part of the ingest figure
        units, texts, seconds = bench_ingest(settings, REPO / "kb")
        print(
            f"ingest ({settings.model.embedding_model}): {units} entries+chunks, {texts} texts embedded, in "
            f"{seconds:.1f} s = {texts / seconds:.1f} texts per second ({units / seconds:.1f} entries+chunks)"
        )
        if args.ingest_only:
            texts, seconds = bench_embedder(settings, REPO / "kb")
            print(f"embedder alone: {texts} texts in {seconds:.1f} s = {texts / seconds:.1f} texts per second")
            return
        questions = [q.question for q in load_labelled_set(REPO / "evals" / "sets" / "demo.csv")]
        times = bench_questions(settings, questions, args.rounds)
        print(
            f"ask latency over {len(times)} answers (model loaded): p50 {1000 * statistics.median(times):.1f} ms, "
            f"p95 {1000 * percentile(times, 0.95):.1f} ms"
        )
        print(
            f"peak memory of this process (ingest + {len(questions)} questions): {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB"
        )
        cold, child_peak = bench_cold_start(settings.index.store_dir, args.cold_runs)
        print(
            f"cold start of one `tanya ask` (process start to answer printed): median {statistics.median(cold):.2f} s, "
            f"max {max(cold):.2f} s; peak memory {child_peak / 1024:.0f} MiB"
        )


if __name__ == "__main__":
    main()
