"""The intent evaluation: how the classifier (and, for comparison, the rules alone) label the labelled intent set.

Three splits, used three ways: the classifier's constants and cues are chosen by fitting on the training files
(`bot/data/intents/train.csv`, `train_extra.csv`) and scoring the choosing ones (`dev.csv`, `dev_hard.csv`;
`--choose`); the shipped classifier learns all four; figures are reported on `evals/intents/heldout/`, never used to
fit or choose (each of its files also alone: set_c.csv was written after the last change was chosen).
"""

from __future__ import annotations

import argparse
import itertools
from collections import Counter
from dataclasses import dataclass, field, replace
from pathlib import Path

from bot.core import intents
from bot.core.intents import Intent, IntentExample
from bot.core.messages import Outcome, Question
from bot.core.text_normalizer import TextNormalizer
from bot.engine import AnswerEngine
from bot.retrieval.intent_classifier import (
    CHOOSING_SPLITS,
    TRAINING_SPLITS,
    IntentClassifier,
    IntentRecipe,
    load_intent_classifier,
    read_intent_examples,
    rule_text,
)

HELDOUT_FOLDER = Path(__file__).parent / "intents" / "heldout"

# Refusing these is a false refusal: the customer asked something ordinary, or about their own account.
_MUST_NOT_REFUSE = (Intent.QUESTION, Intent.OWN_ACCOUNT)


@dataclass
class IntentResult:
    """One split's labels against what a labeller said."""

    name: str
    labeller: str
    pairs: list[tuple[Intent, Intent]] = field(default_factory=list)  # (true, predicted)
    charted: bool = True  # the report draws its confusion matrix

    @property
    def total(self) -> int:
        return len(self.pairs)

    def confusion(self) -> Counter[tuple[Intent, Intent]]:
        return Counter(self.pairs)

    def recall(self, intent: Intent) -> float | None:
        wanted = [p for t, p in self.pairs if t == intent]
        return sum(p == intent for p in wanted) / len(wanted) if wanted else None

    def precision(self, intent: Intent) -> float | None:
        said = [t for t, p in self.pairs if p == intent]
        return sum(t == intent for t in said) / len(said) if said else None

    def accuracy(self) -> float:
        return sum(t == p for t, p in self.pairs) / self.total if self.total else 0.0

    def false_refusals(self) -> tuple[int, int]:
        """Ordinary and own-account messages refused as privacy requests, of all such messages."""
        ordinary = [p for t, p in self.pairs if t in _MUST_NOT_REFUSE]
        return sum(p == Intent.OTHER_PERSON_DATA for p in ordinary), len(ordinary)

    def missed_privacy(self) -> tuple[int, int]:
        """Requests for another person's data not refused, of all such requests."""
        wanted = [p for t, p in self.pairs if t == Intent.OTHER_PERSON_DATA]
        return sum(p != Intent.OTHER_PERSON_DATA for p in wanted), len(wanted)

    def lines(self) -> list[str]:
        refused, ordinary = self.false_refusals()
        missed, privacy = self.missed_privacy()
        out = [
            f"{self.name} ({self.total} messages), {self.labeller}: accuracy {self.accuracy():.1%}; "
            f"false refusals {refused}/{ordinary} ({_share(refused, ordinary)}); "
            f"privacy requests missed {missed}/{privacy} ({_share(missed, privacy)})",
            f"  {'intent':<18} {'precision':>9} {'recall':>7} {'n':>5}",
        ]
        counts = Counter(t for t, _ in self.pairs)
        for intent in Intent:
            if counts[intent]:
                out.append(
                    f"  {intent.value:<18} {_percent(self.precision(intent)):>9} "
                    f"{_percent(self.recall(intent)):>7} {counts[intent]:>5}"
                )
        return out


def _share(part: int, whole: int) -> str:
    return f"{part / whole:.1%}" if whole else "-"


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"


def rules_only(text: str, normalizer: TextNormalizer) -> Intent:
    """What the hand-written rules alone said before the classifier (the order the engine used)."""
    rt = rule_text(text, normalizer)
    if intents.asks_for_person(rt):
        return Intent.ASK_PERSON
    if intents.is_privacy_request(rt):
        return Intent.OTHER_PERSON_DATA
    if intents.is_angry(text, rt):
        return Intent.ANGER
    if intents.is_greeting(rt.splitlines()[-1]):
        return Intent.GREETING
    if intents.needs_account_data(rt):
        return Intent.OWN_ACCOUNT
    return Intent.QUESTION


def _read(paths: tuple[Path, ...]) -> list[IntentExample]:
    return [e for path in paths for e in read_intent_examples(path)]


def heldout_examples() -> list[IntentExample]:
    return _read(tuple(sorted(HELDOUT_FOLDER.glob("*.csv"))))


def score(name: str, classifier: IntentClassifier, examples: list[IntentExample]) -> IntentResult:
    verdicts = classifier.classify_many([e.text for e in examples])
    return IntentResult(name, "classifier", [(e.intent, v.intent) for e, v in zip(examples, verdicts, strict=True)])


def score_rules(name: str, examples: list[IntentExample]) -> IntentResult:
    normalizer = TextNormalizer()
    # The rules never said off-topic or flirting: retrieval's in-domain check did. Counted as questions here.
    return IntentResult(name, "rules only", [(e.intent, rules_only(e.text, normalizer)) for e in examples])


def evaluate_intents(classifier: IntentClassifier | None = None) -> list[IntentResult]:
    """The shipped classifier (it learnt the training and choosing splits) and the rules alone, on the held-out
    split; and, for the record of the choice, the classifier fitted on the training split alone on the choosing one."""
    results = [score("dev (fitted on train only)", IntentClassifier(_read(TRAINING_SPLITS)), _read(CHOOSING_SPLITS))]
    by_file = {path: read_intent_examples(path) for path in sorted(HELDOUT_FOLDER.glob("*.csv"))}
    heldout = [e for examples in by_file.values() for e in examples]
    if heldout:
        shipped = classifier or load_intent_classifier(None)
        results += [score("held-out", shipped, heldout), score_rules("held-out", heldout)]
        if len(by_file) > 1:  # each writer's set alone: a set written after a change is the fairer test of it
            for path, examples in by_file.items():
                results.append(replace(score(f"held-out {path.stem}", shipped, examples), charted=False))
    return results


@dataclass(frozen=True)
class PrivacyThroughEngine:
    """The held-out requests for someone's data put to a whole engine: refused, or what else happened."""

    kb: str
    outcomes: Counter[str]

    @property
    def answered(self) -> int:
        return self.outcomes[Outcome.ANSWER.value]

    def line(self) -> str:
        total = sum(self.outcomes.values())
        shown = ", ".join(f"{outcome} {count}" for outcome, count in self.outcomes.most_common())
        return f"held-out privacy requests through the engine on {self.kb}: {shown} (answered from the knowledge base: {self.answered}/{total})"


def privacy_through_engine(engine: AnswerEngine, kb: str) -> PrivacyThroughEngine:
    """Ask `engine` every held-out request for another person's data; none may be answered."""
    requests = [e.text for e in heldout_examples() if e.intent == Intent.OTHER_PERSON_DATA]
    return PrivacyThroughEngine(kb, Counter(engine.answer(Question(text)).outcome.value for text in requests))


def confusion_chart(result: IntentResult, folder: Path) -> str:
    """The confusion matrix as a PNG in `folder`; returns its file name."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = [i for i in Intent if any(t == i or p == i for t, p in result.pairs)]
    counts = result.confusion()
    grid = [[counts[(t, p)] for p in labels] for t in labels]
    fig, ax = plt.subplots(figsize=(7.5, 6.5))
    ax.imshow(grid, cmap="Blues")
    ax.set_xticks(range(len(labels)), [i.value for i in labels], rotation=40, ha="right")
    ax.set_yticks(range(len(labels)), [i.value for i in labels])
    ax.set_xlabel("predicted")
    ax.set_ylabel("labelled")
    peak = max(max(row) for row in grid) or 1
    for y, row in enumerate(grid):
        for x, count in enumerate(row):
            if count:
                ax.text(x, y, str(count), ha="center", va="center", color="white" if count > peak / 2 else "black")
    ax.set_title(f"Intents, {result.name} ({result.labeller})")
    name = f"intents-{result.name.split()[0]}-{result.labeller.replace(' ', '-')}.png"
    folder.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(folder / name, dpi=110)
    plt.close(fig)
    return name


def report_section(results: list[IntentResult], through_engine: PrivacyThroughEngine | None, folder: Path) -> list[str]:
    """The intents' part of the evaluation report (Markdown), with a confusion-matrix chart per result."""
    lines = [
        "## Intents",
        "",
        "Fitted on bot/data/intents/train*.csv, constants chosen on dev*.csv, shipped fitted on all; the held-out "
        "split (evals/intents/heldout/) is never learnt from. False refusals: ordinary and own-account messages "
        "refused as requests for someone's data.",
        "",
    ]
    for result in results:
        lines += ["```", *result.lines(), "```", ""]
        if result.charted:
            lines += [f"![confusion matrix]({confusion_chart(result, folder)})", ""]
    if through_engine is not None:
        lines += [through_engine.line(), ""]
    return lines


def _choose(train: list[IntentExample], dev: list[IntentExample]) -> None:
    """Print a grid of recipes on the dev split (the choosing set; never the held-out one)."""
    for c, weight in itertools.product((10.0, 30.0, 100.0), (0.0, 1.0, 3.0)):
        result = score("dev", IntentClassifier(train, IntentRecipe(regularisation=c, rule_weight=weight)), dev)
        refused, ordinary = result.false_refusals()
        missed, privacy = result.missed_privacy()
        print(
            f"C={c:<5} rules×{weight:<4} accuracy {result.accuracy():.1%}  false refusals {refused}/{ordinary}  "
            f"missed privacy {missed}/{privacy}  ask_person recall {_percent(result.recall(Intent.ASK_PERSON))}  "
            f"anger recall {_percent(result.recall(Intent.ANGER))}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--choose", action="store_true", help="print the recipe grid on the dev split")
    args = parser.parse_args()
    if args.choose:
        _choose(_read(TRAINING_SPLITS), _read(CHOOSING_SPLITS))
        return
    for result in evaluate_intents():
        print("\n".join(result.lines()))


if __name__ == "__main__":
    main()
