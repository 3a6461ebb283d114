"""Speed and memory at scale (a benchmark that prints, never a test that asserts): `python -m evals.scale_benchmark`.

Prints per-question latency (p50/p95 of `AnswerEngine.answer`), the retriever's refresh time, the engine's warm-up
and peak memory at 2,000, 20,000 and 100,000 indexed records, on the embedded store and (`--server`) on a
`chroma run` server this benchmark starts and stops itself on 127.0.0.1. Each size and store is measured in a
fresh process, so its memory figures are its own.

The records are generated: the demo knowledge base's own FAQ entries and document chunks, plus copies of them
made into other products (generated product names and numbers, parts of other phrasings mixed in), so the
lexical vocabulary grows with the size as an operator's would, with the metadata ingest writes. Embedding
100,000 texts would take a quarter of an hour, so only the demo's texts are embedded (once, with the model);
each generated record's vector is its template's, mixed with another record's and a little noise, normalised.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from bot.retrieval.embedder import load_embedder, model_identity
from bot.retrieval.knowledge_index import IndexInconsistentError, IndexRecord, KnowledgeIndex
from bot.settings import BUNDLED_MODEL, Settings, get_settings
from evals.harness import ChromaServer, percentile
from evals.labelled_set import load_labelled_set
from ingest.documents import DocumentChunk
from ingest.faq_files import FaqEntry
from ingest.knowledge_base import KnowledgeBase, load_knowledge_base
from ingest.sync import chunk_records, faq_records

REPO = Path(__file__).resolve().parent.parent
DEFAULT_SIZES = (2_000, 20_000, 100_000)
COLLECTION = "tanya_scale"
DOC_SHARE = 0.2  # of the generated records, the share that are document chunks (the rest FAQ records)

_SYLLABLES = (
    "nu sa ka ra ta li ma wa ti bu su ko ne ja ya da pi lo me ga ri to se fa ha mu xa zo vi qu ke do ba ni lu ro"
).split()
_SUFFIXES = ("", "", "", " Plus", " Max", " Lite", " Pro", " Go", " Ultra", " Hemat", " Extra", " Family")
_DIGIT = re.compile(r"\d")
_END = re.compile(r"[?.!]*\s*$")


# --- generating records ----------------------------------------------------------------------------------------
def _product_names(count: int, rng: random.Random) -> list[str]:
    """`count` distinct made-up product names ("Kamari Plus", "Tobuse 50"): new words for the lexical index."""
    names: set[str] = set()
    while len(names) < count:
        word = "".join(rng.choice(_SYLLABLES) for _ in range(rng.randint(2, 4))).capitalize()
        if rng.random() < 0.3:
            word += f" {rng.choice((5, 10, 15, 25, 30, 50, 75, 100))}"
        names.add(word + rng.choice(_SUFFIXES))
    return sorted(names)


def _with_product(text: str, product: str, rng: random.Random) -> str:
    """A phrasing about `product`: its name put in, its numbers changed."""
    text = _DIGIT.sub(lambda _: str(rng.randint(0, 9)), text)
    words = text.split()
    if rng.random() < 0.5 or len(words) < 3:
        ending = _END.search(text)
        cut = ending.start() if ending else len(text)
        return f"{text[:cut]} {product}{text[cut:]}"
    at = rng.randint(1, len(words) - 1)
    return " ".join([*words[:at], product, *words[at:]])


def _mixed(text: str, others: list[str], rng: random.Random) -> str:
    """Now and then a few words of another phrasing added, so words meet in new combinations."""
    if rng.random() >= 0.25:
        return text
    words = rng.choice(others).split()
    start = rng.randint(0, max(0, len(words) - 3))
    return f"{text} {' '.join(words[start : start + rng.randint(3, 6)])}"


@dataclass
class Corpus:
    """The records to index and their vectors (row i of `vectors` belongs to `records[i]`)."""

    records: list[IndexRecord]
    vectors: np.ndarray


def generate(kb: KnowledgeBase, real: dict[str, np.ndarray], size: int, seed: int = 7) -> Corpus:
    """The demo's own records, and generated ones up to `size`, each with a vector (see the module's docstring)."""
    rng = random.Random(seed)
    noise = np.random.default_rng(seed)
    base = [r for e in kb.entries for r in faq_records(e)] + [r for c in kb.chunks for r in chunk_records(c)]
    records: list[IndexRecord] = base[:size]
    templates: list[str] = [r.id for r in records]  # the real record whose vector each record's is made from
    real_ids = sorted(real)
    texts = [r.text for r in base]
    products = _product_names(max(50, size // 12), rng)
    by_text = {r.text.lower(): r.id for r in base}
    n = 0
    while len(records) < size:
        n += 1
        product = rng.choice(products)
        slug = re.sub(r"[^a-z0-9]+", "-", product.lower()).strip("-")
        made: list[IndexRecord]
        sources: dict[str, str] = {}  # generated text -> the real record it was made from
        if rng.random() < DOC_SHARE:
            chunk = rng.choice(kb.chunks)
            text = _mixed(_with_product(chunk.text, product, rng), texts, rng)
            made = chunk_records(
                DocumentChunk(f"docs/generated/{slug}-{n}.md", f"{chunk.title} {product}", chunk.section, text, 0)
            )
            sources[made[0].text] = chunk_records(chunk)[0].id
        else:
            entry = rng.choice(kb.entries)
            keep = rng.randint(1, max(1, len(entry.alternates)))
            alternates = rng.sample(list(entry.alternates), min(keep, len(entry.alternates)))
            pieces = [entry.question, *alternates, entry.answer]
            changed = [_mixed(_with_product(p, product, rng), texts, rng) for p in pieces]
            for original, text in zip(pieces, changed, strict=True):
                sources[text] = by_text[original.lower()]
            answer_en = _with_product(entry.answer_en, product, rng) if entry.answer_en else None
            made = faq_records(
                FaqEntry(
                    f"{entry.id}-{slug}-{n}",
                    changed[0],
                    changed[-1],
                    tuple(changed[1:-1]),
                    answer_en,
                    (*entry.tags, slug),
                    f"faq/generated-{n % 40}.yaml",
                )
            )
        for record in made[: size - len(records)]:
            records.append(record)
            templates.append(sources.get(record.text, rng.choice(real_ids)))
    vectors = np.empty((len(records), len(next(iter(real.values())))), dtype=np.float32)
    for row, (record, template) in enumerate(zip(records, templates, strict=True)):
        vector = real[template]
        if record.id != template:
            other = real[real_ids[rng.randrange(len(real_ids))]]
            jitter = noise.standard_normal(vector.shape[0]) / np.sqrt(vector.shape[0])
            vector = vector + 0.3 * other + 0.35 * jitter
        vectors[row] = vector / max(float(np.linalg.norm(vector)), 1e-12)
    return Corpus(records, vectors)


def real_vectors(settings: Settings, kb: KnowledgeBase, cache: Path) -> dict[str, np.ndarray]:
    """The demo's records embedded with the model (kept in `cache`: the same model and texts give the same)."""
    base = [r for e in kb.entries for r in faq_records(e)] + [r for c in kb.chunks for r in chunk_records(c)]
    key = re.sub(r"[^A-Za-z0-9_.-]+", "_", model_identity(settings))
    file = cache / f"scale-vectors-{key}-{len(base)}.npz"
    if file.is_file():
        stored = np.load(file)
        if list(stored["ids"]) == [r.id for r in base]:
            return dict(zip((r.id for r in base), stored["vectors"], strict=True))
    started = time.perf_counter()
    vectors = np.asarray(load_embedder(settings).embed_documents([r.text for r in base]), dtype=np.float32)
    print(f"  embedded the demo's {len(base)} texts once in {time.perf_counter() - started:.0f} s", flush=True)
    cache.mkdir(parents=True, exist_ok=True)
    np.savez(file, ids=np.array([r.id for r in base]), vectors=vectors)
    return dict(zip((r.id for r in base), vectors, strict=True))


def build_store(settings: Settings, kb: KnowledgeBase, corpus: Corpus) -> float:
    """Write the corpus into the settings' embedded store as ingest would; the seconds it took."""
    started = time.perf_counter()
    with KnowledgeIndex(settings, load_embedder(settings), writable=True) as index:
        index.reset()
        index.add(corpus.records, corpus.vectors.tolist())
        info: dict[str, Any] = {"embedding_model": model_identity(settings)}
        if kb.glossary is not None:
            info["glossary"] = json.dumps(kb.glossary.as_mapping(), ensure_ascii=False)
        index.set_info(**info)
    return time.perf_counter() - started


# --- measuring (in a child process) ----------------------------------------------------------------------------
def _memory_kib(pid: int | str = "self") -> dict[str, int]:
    """VmHWM (peak resident) and VmRSS of a process, in KiB."""
    with open(f"/proc/{pid}/status") as status:
        fields = dict(line.split(":", 1) for line in status if line.startswith(("VmHWM", "VmRSS")))
    return {name: int(value.split()[0]) for name, value in fields.items()}


def measure(settings: Settings, questions: list[str], rounds: int, refreshes: int) -> dict[str, Any]:
    """Open an engine on the settings' index as `tanya serve` does and time it; what the parent prints."""
    from bot.core.messages import Question
    from bot.engine import AnswerEngine

    started = time.perf_counter()
    embedder = load_embedder(settings)
    index = KnowledgeIndex(settings, embedder, writable=False)
    engine = AnswerEngine(settings, index)  # the intent classifier is fitted (or read from the model cache) here
    opened = time.perf_counter() - started
    started = time.perf_counter()
    check = "passed"
    try:
        engine.warm_up()  # consistency check, refresh, the model's first question; the threshold is set
    except IndexInconsistentError as error:  # the check's nearest-3 search misses near-duplicates at this size
        check = f"failed: {error}"
        engine.refresh()  # what warm_up does after the check: the retriever, the calibration (set: none made)
        embedder.embed_query("halo")
    warm_up = time.perf_counter() - started
    refresh = []
    for _ in range(refreshes):
        started = time.perf_counter()
        engine.retriever.refresh()
        refresh.append(time.perf_counter() - started)
    cache = getattr(embedder, "_cache", None)  # the embedder keeps recent questions' vectors: each is asked afresh
    for text in questions[:20]:
        engine.answer(Question(text=text))
    answer, embed, search, retrieve = [], [], [], []
    for _ in range(rounds):
        for text in questions:
            if cache is not None:
                cache.clear()
            started = time.perf_counter()
            engine.answer(Question(text=text))
            answer.append(time.perf_counter() - started)
    for text in questions:  # where the time goes, one part at a time
        if cache is not None:
            cache.clear()
        started = time.perf_counter()
        vector = embedder.embed_query(text)
        embed.append(time.perf_counter() - started)
        started = time.perf_counter()
        index.search_vector(vector, 150)
        search.append(time.perf_counter() - started)
        started = time.perf_counter()
        engine.retriever.retrieve(text)  # its vector is cached now: the ranking without the embedding
        retrieve.append(time.perf_counter() - started)
    records = len(engine.retriever.records)
    engine.close()
    return {
        "records": records,
        "open_s": opened,
        "check": check,
        "warm_up_s": warm_up,
        "refresh_s": statistics.median(refresh),
        "answer_ms": [1000 * t for t in answer],
        "embed_ms": statistics.median(embed) * 1000,
        "search_ms": statistics.median(search) * 1000,
        "retrieve_ms": statistics.median(retrieve) * 1000,
        **_memory_kib(),
    }


def _child() -> None:
    job = json.loads(sys.stdin.read())
    settings = get_settings().replaced(**job["settings"])
    result = measure(settings, job["questions"], job["rounds"], job["refreshes"])
    print("TANYA_SCALE " + json.dumps(result), flush=True)


def run_child(job: dict[str, Any]) -> dict[str, Any]:
    """`measure` in a fresh process (so its memory is its own), at low priority beside other work."""
    finished = subprocess.run(
        ["nice", "-n", "5", sys.executable, "-m", "evals.scale_benchmark", "--child"],
        cwd=REPO,
        env={**os.environ, "HF_HUB_OFFLINE": "1", "ANONYMIZED_TELEMETRY": "False"},
        input=json.dumps(job),
        capture_output=True,
        text=True,
        check=False,
    )
    lines = [line for line in finished.stdout.splitlines() if line.startswith("TANYA_SCALE ")]
    if finished.returncode != 0 or not lines:
        raise RuntimeError(f"the measuring process failed: {finished.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(lines[-1].removeprefix("TANYA_SCALE "))
    return result


# --- the report ------------------------------------------------------------------------------------------------
def _row(size: int, store: str, result: dict[str, Any], server_kib: dict[str, int] | None) -> str:
    times = result["answer_ms"]
    server = f"{server_kib['VmHWM'] / 1024:>8.0f}" if server_kib else f"{'-':>8}"
    return (
        f"{size:>8,} {store:<9} {result['refresh_s']:>9.2f} {result['warm_up_s']:>8.2f} "
        f"{statistics.median(times):>8.1f} {percentile(times, 0.95):>8.1f} "
        f"{result['embed_ms']:>6.1f} {result['search_ms']:>7.1f} {result['retrieve_ms']:>9.1f} "
        f"{result['VmHWM'] / 1024:>8.0f} {result['VmRSS'] / 1024:>8.0f} {server}"
    )


HEADER = (
    f"{'records':>8} {'store':<9} {'refresh s':>9} {'warm-up':>8} {'p50 ms':>8} {'p95 ms':>8} "
    f"{'embed':>6} {'chroma':>7} {'retrieve':>9} {'peak MiB':>8} {'RSS MiB':>8} {'server':>8}"
)
LEGEND = """\
refresh s: HybridRetriever.refresh (median); warm-up: AnswerEngine.warm_up (consistency check, refresh, first
question; the answer threshold is set, so no self-calibration). p50/p95: AnswerEngine.answer per question, each
question embedded afresh. embed, chroma, retrieve (ms, medians): the question's embedding alone, the Chroma query of
the nearest records alone, and HybridRetriever.retrieve with the question's vector cached (Chroma query included).
peak MiB / RSS MiB: the measuring process's VmHWM / VmRSS at the end; server: the `chroma run` process's VmHWM."""


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default=",".join(str(s) for s in DEFAULT_SIZES), help="records, comma-separated")
    parser.add_argument("--server", action="store_true", help="also measure on a `chroma run` server")
    parser.add_argument("--rounds", type=int, default=1, help="passes over the demo questions for latency")
    parser.add_argument("--refreshes", type=int, default=2, help="refreshes to time (the median is printed)")
    parser.add_argument("--questions", type=int, default=0, help="ask only the first N demo questions (0: all)")
    parser.add_argument("--model", default=BUNDLED_MODEL, help="embedding model (default: the bundled MiniLM-L6)")
    parser.add_argument("--work-dir", type=Path, help="where the stores are built (default: a temporary folder)")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        _child()
        return
    sizes = [int(s.replace("_", "")) for s in args.sizes.split(",") if s.strip()]
    questions = [q.question for q in load_labelled_set(REPO / "evals" / "sets" / "demo.csv")]
    questions = questions[: args.questions] if args.questions else questions
    calibration = json.loads((REPO / "kb" / "calibration.json").read_text(encoding="utf-8"))["settings"]
    base = get_settings().replaced(embedding_model=args.model, chroma_host=None, collection=COLLECTION)
    kb = load_knowledge_base([REPO / "kb"], REPO / "kb")
    with tempfile.TemporaryDirectory(dir=args.work_dir) as folder:
        work = Path(folder)
        print(f"Model {model_identity(base)}; {len(questions)} demo questions x {args.rounds} round(s) per size")
        real = real_vectors(base, kb, base.model.cache_dir)
        print(
            f"Records: the demo's {len(real)} (vectors from the model), the rest generated (vectors mixed from "
            "the demo's, normalised; see the module's docstring)"
        )
        rows = []
        for size in sizes:
            store = work / f"store-{size}"
            settings = base.replaced(store_dir=store)
            started = time.perf_counter()
            corpus = generate(kb, real, size)
            made = time.perf_counter() - started
            built = build_store(settings, kb, corpus)
            units = len({r.metadata["unit"] for r in corpus.records})
            print(
                f"  {size:,} records ({units:,} entries and chunks): generated in {made:.1f} s, stored in {built:.1f} s"
            )
            del corpus
            changes: dict[str, Any] = {
                "embedding_model": args.model,
                "collection": COLLECTION,
                "answer_threshold": calibration["answer_threshold"],
                "confidence_weights": calibration["confidence_weights"],
            }
            job = {
                "questions": questions,
                "rounds": args.rounds,
                "refreshes": args.refreshes,
            }
            embedded = run_child({**job, "settings": {**changes, "store_dir": str(store), "chroma_host": None}})
            rows.append(_row(size, "embedded", embedded, None))
            print("  " + rows[-1], flush=True)
            if embedded["check"] != "passed":
                print(f"  ({size:,} embedded: the consistency check {embedded['check']})")
            if args.server:
                server = ChromaServer(store, work / f"server-{size}.log")
                try:
                    served = run_child(
                        {**job, "settings": {**changes, "chroma_host": "127.0.0.1", "chroma_port": server.port}}
                    )
                    server_memory = _memory_kib(server.process.pid)
                finally:
                    server.stop()
                rows.append(_row(size, "server", served, server_memory))
                print("  " + rows[-1], flush=True)
                if served["check"] != "passed":
                    print(f"  ({size:,} server: the consistency check {served['check']})")
        print()
        print(HEADER)
        print("\n".join(rows))
        print(LEGEND)


if __name__ == "__main__":
    main()
