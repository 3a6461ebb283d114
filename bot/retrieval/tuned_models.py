"""Where a `tuned:` model lives and which of its generations is in use. Names and finds models; never trains one
(`ingest.tuning` does).

A tuned model is kept under the model cache, one folder per knowledge base, base model, recipe and what it learns,
with a manifest whose fingerprint names the weights. Each re-tune builds a new generation beside the one in use
(`<folder>-2`, `-3`, ...); a pointer file names the current one, and a process pins the generation it answers with
(`tuned_generation`), so a re-tune never changes the weights under it.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bot.retrieval.model_files import model_cache_key
from bot.settings import Settings

log = logging.getLogger(__name__)

MANIFEST = "tanya-tuning.json"
CURRENT_SUFFIX = ".current"  # beside the first generation's folder: the number of the generation in use
# Bumped when the training recipe changes, so models tuned by an older recipe are not mistaken for current ones.
RECIPE = "contrastive-hard-negatives-v3"  # v3: length groups, 3 epochs at 4e-5 (v2: 4 at 3e-5)

Progress = Callable[[int, int, float], None]  # step, total steps, loss


def _first_generation_folder(settings: Settings) -> Path:
    """One folder per knowledge base, base model, recipe and what it learns; later generations add `-<n>` to its
    name."""
    kb_dir = settings.tuned_kb_dir
    learns = settings.tuning.on.value
    if settings.tuning.corpus_file is not None and settings.tuning.on.learns_corpus:
        learns += f"|{settings.tuning.corpus_file.resolve()}"
    digest = hashlib.sha256(f"{kb_dir}|{settings.tuning.base_model}|{RECIPE}|{learns}".encode()).hexdigest()[:10]
    return settings.model.cache_dir / f"tuned-{kb_dir.name}-{digest}"


def generation_folder(settings: Settings, generation: int) -> Path:
    first = _first_generation_folder(settings)
    return first if generation == 1 else first.with_name(f"{first.name}-{generation}")


def current_generation(settings: Settings) -> int:
    """The generation in use, as the last swap or `tanya tune` left it (1 before any re-tune)."""
    try:
        return max(1, int(_current_file(settings).read_text(encoding="utf-8")))
    except (OSError, ValueError):
        return 1


def generation(settings: Settings) -> int:
    """The generation these settings use: pinned, else the current one."""
    return settings.tuning.generation or current_generation(settings)


def pinned(settings: Settings, number: int | None = None) -> Settings:
    """The settings held to one generation (the current one by default), whatever re-tunes do meanwhile."""
    return settings.replaced(tuned_generation=number or current_generation(settings))


def tuned_model_folder(settings: Settings) -> Path:
    """Where the `tuned:` model of these settings lives (the generation they use)."""
    return generation_folder(settings, generation(settings))


def next_generation(settings: Settings) -> Settings:
    """The settings of the model a tuning in the background builds: the current generation while it is not built
    (a first run), else the one after it (which a restart may have left finished or half-built)."""
    current = current_generation(settings)
    built = read_manifest(generation_folder(settings, current)) is not None
    return pinned(settings, current + 1 if built else current)


def make_current(settings: Settings) -> None:
    """Name the settings' generation as the one in use, for every process that opens the model from now on."""
    target = _current_file(settings)
    partial = target.with_name(target.name + ".partial")
    partial.write_text(str(generation(settings)), encoding="utf-8")
    partial.replace(target)


def prune_generations(settings: Settings) -> None:
    """Delete the generations older than the settings' one, with their progress files and ONNX exports."""

    keep = generation(settings)
    for number, folder in generations_on_disk(settings):
        if number >= keep:
            continue
        manifest = read_manifest(folder) if folder.suffix != ".partial" else None
        if manifest is not None:
            export = model_cache_key(f"tuned:{folder.name}#{manifest['fingerprint']}")
            shutil.rmtree(settings.model.cache_dir / export, ignore_errors=True)
        progress_file_of(folder).unlink(missing_ok=True)
        shutil.rmtree(folder, ignore_errors=True)
        log.info("Deleted generation %d of the tuned model (%s)", number, folder.name)


def _current_file(settings: Settings) -> Path:
    first = _first_generation_folder(settings)
    return first.with_name(first.name + CURRENT_SUFFIX)


def generations_on_disk(settings: Settings) -> list[tuple[int, Path]]:
    """Every generation folder of these settings' model, finished or half-built (`.partial`), by number."""
    first = _first_generation_folder(settings)
    pattern = re.compile(rf"{re.escape(first.name)}(?:-(\d+))?(?:\.partial)?")
    found = []
    for path in first.parent.glob(first.name + "*"):
        match = pattern.fullmatch(path.name)
        if match and path.is_dir():
            found.append((int(match.group(1) or 1), path))
    return sorted(found)


def read_manifest(folder: Path) -> dict[str, object] | None:
    try:
        manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return manifest if isinstance(manifest, dict) and manifest.get("fingerprint") else None


class TunedModelMissingError(RuntimeError):
    """A `tuned:` model is named (the index's identity, say) before anything has built it."""


def built_tuned_model(settings: Settings) -> Path:
    """The settings' tuned model folder when it is built; never trains (raises `TunedModelMissingError`)."""
    folder = tuned_model_folder(pinned(settings, generation(settings)))
    if read_manifest(folder) is None:
        raise TunedModelMissingError(
            f"The tuned model {folder} is not built yet: `tanya tune` builds it (`tanya serve` does by itself)."
        )
    return folder


@dataclass(frozen=True)
class TuningProgress:
    """How far a fine-tuning under way has got, as its process last wrote it."""

    step: int
    total: int
    started: float  # time.time() of the start
    updated: float

    @property
    def fraction(self) -> float:
        return self.step / self.total if self.total else 0.0

    @property
    def seconds_left(self) -> float | None:
        """Time to go at the pace so far (None before the first step)."""
        if not self.step:
            return None
        return (self.updated - self.started) / self.step * (self.total - self.step)


def progress_file(settings: Settings) -> Path:
    return progress_file_of(tuned_model_folder(settings))


def progress_file_of(folder: Path) -> Path:
    return folder.with_name(folder.name + ".progress.json")


def read_progress(settings: Settings) -> TuningProgress | None:
    """The progress of a fine-tuning of the settings' model under way (or finished), None before it starts."""
    try:
        raw = json.loads(progress_file(settings).read_text(encoding="utf-8"))
        return TuningProgress(int(raw["step"]), int(raw["total"]), float(raw["started"]), float(raw["updated"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None
