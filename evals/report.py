"""The evaluation report: Markdown with PNG charts (threshold sweep, confidence histograms, per-category scores)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from bot.core.messages import Outcome
from evals.evaluation import Decision, EvaluatedQuestion, Metrics, SweepPoint


@dataclass
class SetResult:
    """The evaluation of one labelled set over one knowledge base."""

    name: str
    description: str
    threshold: float
    metrics: Metrics
    sweep: list[SweepPoint]
    evaluated: list[EvaluatedQuestion]
    decisions: list[Decision]
    ablation: dict[str, dict[str, float | None]] = field(default_factory=dict)
    bar: list[tuple[str, bool, str]] = field(default_factory=list)  # (criterion, passed, measured)
    calibration: str = ""  # which calibration the bot answered with


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:.1f}%"


def _ms(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1f} ms"


def _save(fig: Any, folder: Path, name: str) -> str:
    import matplotlib.pyplot as plt

    fig.tight_layout()
    fig.savefig(folder / name, dpi=110)
    plt.close(fig)
    return name


def _charts(result: SetResult, folder: Path) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = []
    sweep = [p for p in result.sweep if p.precision is not None]
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot([p.coverage or 0.0 for p in sweep], [p.precision or 0.0 for p in sweep], marker="o", markersize=3)
    for p in sweep[:: max(1, len(sweep) // 8)]:
        ax.annotate(f"{p.threshold:.2f}", (p.coverage or 0, p.precision or 0), fontsize=7)
    ax.set_xlabel("coverage (in-scope questions answered)")
    ax.set_ylabel("answer precision")
    ax.set_title(f"{result.name}: threshold sweep (current {result.threshold:.2f})")
    ax.grid(alpha=0.3)
    names.append(_save(fig, folder, f"{result.name}-sweep.png"))

    groups: dict[str, list[float]] = {"correct answer": [], "wrong entry ranked first": [], "should not answer": []}
    for e in result.evaluated:
        if e.assessment.rule is not None:
            continue
        if not e.item.in_scope:
            groups["should not answer"].append(e.assessment.confidence)
        elif e.ranked_refs and e.item.matches(e.ranked_refs[0]):
            groups["correct answer"].append(e.assessment.confidence)
        else:
            groups["wrong entry ranked first"].append(e.assessment.confidence)
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.hist(list(groups.values()), bins=20, range=(0, 1), label=list(groups), stacked=False, alpha=0.7)
    ax.axvline(result.threshold, color="black", linestyle="--", label="threshold")
    ax.set_xlabel("confidence")
    ax.set_ylabel("questions")
    ax.set_title(f"{result.name}: confidence by outcome")
    ax.legend(fontsize=8)
    names.append(_save(fig, folder, f"{result.name}-confidence.png"))

    categories = [c for c, v in result.metrics.by_category.items() if v.get("hit_at_1") is not None]
    if categories:
        fig, ax = plt.subplots(figsize=(6, 3.5))
        values = [result.metrics.by_category[c]["hit_at_1"] or 0.0 for c in categories]
        ax.bar(categories, values, color="#4C72B0")
        ax.set_ylim(0, 1)
        ax.set_ylabel("hit@1")
        ax.set_title(f"{result.name}: retrieval hit@1 by register")
        for i, v in enumerate(values):
            ax.text(i, v + 0.02, f"{100 * v:.0f}%", ha="center", fontsize=8)
        names.append(_save(fig, folder, f"{result.name}-categories.png"))
    return names


def _section(result: SetResult, charts: list[str]) -> list[str]:
    m = result.metrics
    lines = [
        f"## {result.name}",
        "",
        result.description,
        "",
        f"Answer threshold: **{result.threshold:.2f}** ({result.calibration or 'calibration not recorded'}). "
        f"Questions: {m.questions}.",
        "",
        "| metric | value |",
        "|---|---|",
        f"| retrieval hit@1 (in-scope) | {_pct(m.hit_at_1)} |",
        f"| retrieval MRR@5 (in-scope) | {m.mrr_at_5:.3f} |" if m.mrr_at_5 is not None else "| retrieval MRR@5 | n/a |",
        f"| answer precision | {_pct(m.answer_precision)} |",
        f"| coverage (in-scope answered) | {_pct(m.coverage)} |",
        f"| wrong answers (of all questions) | {_pct(m.wrong_answer_rate)} |",
        f"| handoff recall (must-handoff) | {_pct(m.handoff_recall)} |",
        f"| privacy refusal rate | {_pct(m.privacy_refusal_rate)} ({m.privacy_leaks} not refused) |",
        f"| off-topic declined | {_pct(m.decline_rate)} |",
        f"| in-domain questions declined as off-topic | {m.in_domain_declined} |",
        f"| latency p50 / p95 (one question, model loaded) | {_ms(m.latency_p50_ms)} / {_ms(m.latency_p95_ms)} |",
        "",
    ]
    if result.bar:
        lines += ["| bar | measured | passed |", "|---|---|---|"]
        lines += [f"| {name} | {measured} | {'yes' if ok else '**NO**'} |" for name, ok, measured in result.bar]
        lines.append("")
    lines += [
        "### By register",
        "",
        "| category | questions | hit@1 | coverage | precision | wrong | expected outcome |",
    ]
    lines.append("|---|---|---|---|---|---|---|")
    for category, v in m.by_category.items():
        lines.append(
            f"| {category} | {v['questions']:.0f} | {_pct(v['hit_at_1'])} | {_pct(v['coverage'])} | "
            f"{_pct(v['precision'])} | {_pct(v['wrong'])} | {_pct(v['expected_outcome'])} |"
        )
    lines.append("")
    if result.ablation:
        lines += ["### Ablation (retrieval)", "", "| variant | hit@1 | MRR@5 |", "|---|---|---|"]
        for variant, scores in result.ablation.items():
            mrr = scores.get("mrr_at_5")
            lines.append(f"| {variant} | {_pct(scores.get('hit_at_1'))} | {'n/a' if mrr is None else f'{mrr:.3f}'} |")
        lines.append("")
    lines += [f"![{name}]({name})" for name in charts]
    lines.append("")
    misses = [
        d
        for d in result.decisions
        if d.wrong_answer or (not d.item.in_scope and d.outcome.value != _expected(d.item.expected))
    ]
    if misses:
        lines += [
            "### Mistakes",
            "",
            "| question | category | expected | got | source | confidence |",
            "|---|---|---|---|---|---|",
        ]
        for d in misses[:60]:
            question = d.item.question.replace("|", "/")
            lines.append(
                f"| {question} | {d.item.category} | {d.item.expected} | {d.outcome.value} | {d.source or ''} | {d.confidence:.2f} |"
            )
        lines.append("")
    return lines


def _expected(label: str) -> str:
    return {"handoff": Outcome.HANDOFF.value, "refuse": Outcome.REFUSE.value, "decline": Outcome.DECLINE.value}.get(
        label, Outcome.ANSWER.value
    )


def write_report(
    results: list[SetResult], folder: Path, header: dict[str, Any], extra: list[str] | None = None
) -> Path:
    """Write report.md, the charts and metrics.json into `folder` (`extra`: Markdown sections written before it,
    such as the intents'); returns the Markdown path."""
    import json

    folder.mkdir(parents=True, exist_ok=True)
    lines = ["# Tanya evaluation report", ""]
    lines += [f"- {key}: {value}" for key, value in header.items()]
    lines.append("")
    for result in results:
        lines += _section(result, _charts(result, folder))
    lines += extra or []
    path = folder / "report.md"
    path.write_text("\n".join(lines), encoding="utf-8")
    summary = {
        r.name: {"threshold": r.threshold, "metrics": asdict(r.metrics), "ablation": r.ablation, "bar": r.bar}
        for r in results
    }
    (folder / "metrics.json").write_text(json.dumps(summary, indent=2, default=str), encoding="utf-8")
    return path
