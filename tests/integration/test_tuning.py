"""Fine-tuning: the `tuned:<kb>` model is built once from a knowledge base's phrasings and names its weights.

These tests tune on a small knowledge base for one epoch into their own model cache (seconds), never touching the
shared default model under var/models.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from support.cli import KB_FILES, tanya, write_kb
from support.tiny_models import tiny_settings

from bot.core.text_normalizer import TextNormalizer
from bot.retrieval.embedder import OnnxEmbedder, TorchEmbedder, load_embedder, model_identity
from bot.retrieval.knowledge_index import IndexInconsistentError, KnowledgeIndex
from bot.retrieval.model_files import resolve_model
from bot.retrieval.tuned_models import MANIFEST, TunedModelMissingError, read_manifest, tuned_model_folder
from bot.settings import BUNDLED_MODEL, Settings
from ingest.faq_files import FaqEntry
from ingest.knowledge_base import load_knowledge_base
from ingest.sync import sync_index
from ingest.tuning import build_tuned_model, embed_in_length_groups, ensure_tuned_model, phrasing_groups, tune_model

SMALL_KB_ENV = {"TANYA_TUNE_ON": "kb"}  # the `tanya` commands below tune the small kb's own phrasings

PHRASINGS = ["Bagaimana cara cek sisa pulsa?", "gmn cek pulsa", "Bagaimana cara isi pulsa?"]


@pytest.fixture(scope="module")
def tuned(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    settings = tiny_settings(tmp_path_factory.mktemp("tuned"))
    ensure_tuned_model(settings)  # the explicit step: loading never trains
    return settings


def test_groups_hold_each_entrys_phrasings_and_their_normalised_forms() -> None:
    entry = FaqEntry(id="cek-pulsa", question="Bagaimana cara cek pulsa?", alternates=("gmn cek pulsa",), answer="x")
    lonely = FaqEntry(id="sendiri", question="apa itu nusantel", answer="y")  # already its normalised form
    (group,) = phrasing_groups([entry, lonely], TextNormalizer())
    assert group[:2] == ["Bagaimana cara cek pulsa?", "gmn cek pulsa"]
    assert "bagaimana cek pulsa" in group  # gmn -> bagaimana: the model learns slang and formal mean the same
    assert len(group) == len(set(group))


def test_naming_or_loading_a_model_that_is_not_built_never_trains_it(tmp_path: Path) -> None:
    settings = tiny_settings(tmp_path)
    with pytest.raises(TunedModelMissingError, match="tanya tune"):
        model_identity(settings)
    with pytest.raises(TunedModelMissingError, match="tanya tune"):
        load_embedder(settings)
    assert not (tmp_path / "models").exists() or not any((tmp_path / "models").iterdir())


def test_tuning_builds_the_model_once_with_a_manifest(tuned: Settings) -> None:
    folder = tuned_model_folder(tuned)
    manifest = read_manifest(folder)
    assert manifest is not None
    assert manifest["base_model"] == BUNDLED_MODEL and manifest["entries"] == 3 and manifest["epochs"] == 1
    assert model_identity(tuned) == f"tuned:{folder.name}#{manifest['fingerprint']}"
    same_kb_by_another_name = tuned.replaced(embedding_model=f"tuned:{tuned.kb_dir}/../kb")
    assert model_identity(same_kb_by_another_name) == model_identity(tuned)
    written = (folder / MANIFEST).stat().st_mtime_ns
    embedder = load_embedder(tuned)
    assert isinstance(embedder, OnnxEmbedder)
    assert ensure_tuned_model(tuned) == folder
    assert (folder / MANIFEST).stat().st_mtime_ns == written  # loaded, not tuned again
    assert not folder.with_name(folder.name + ".partial").exists()


def test_tuned_weights_differ_from_the_base_and_onnx_matches_torch(tuned: Settings) -> None:
    folder = tuned_model_folder(tuned)
    onnx = np.array(load_embedder(tuned).embed_documents(PHRASINGS))
    torch_tuned = np.array(TorchEmbedder(str(folder)).embed_documents(PHRASINGS))
    base = np.array(TorchEmbedder(resolve_model(BUNDLED_MODEL)).embed_documents(PHRASINGS))
    assert np.abs(onnx - torch_tuned).max() < 1e-4
    assert np.abs(torch_tuned - base).max() > 1e-3


def test_retuning_with_other_weights_makes_an_old_index_ask_for_a_rebuild(tmp_path: Path) -> None:
    settings = tiny_settings(tmp_path)
    ensure_tuned_model(settings)
    kb = load_knowledge_base([settings.kb_dir], settings.kb_dir)
    with KnowledgeIndex(settings, load_embedder(settings), writable=True) as index:
        sync_index(index, kb, show_progress=False)
        assert index.info()["embedding_model"] == model_identity(settings)
    before = model_identity(settings)
    build_tuned_model(settings.replaced(tune_epochs=2))
    assert model_identity(settings) != before
    index = KnowledgeIndex(settings, load_embedder(settings), writable=False)
    with index, pytest.raises(IndexInconsistentError) as caught:
        index.check_consistency()
    assert str(caught.value).endswith("Run `tanya ingest --rebuild`.")


def test_tune_command_refuses_a_model_that_is_not_tuned(tmp_path: Path) -> None:
    write_kb(tmp_path, dict(KB_FILES))
    result = tanya(tmp_path, "tune", TANYA_EMBEDDING_MODEL=BUNDLED_MODEL)
    assert result.returncode == 2
    assert "not a tuned model" in result.stderr and "Traceback" not in result.stderr


def test_tune_command_tunes_the_named_kb_and_says_what_to_do_next(tmp_path: Path) -> None:
    write_kb(tmp_path, dict(KB_FILES))
    models = tmp_path / "models"
    result = tanya(
        tmp_path, "tune", "--kb", "kb", "--epochs", "1", "--quiet", **SMALL_KB_ENV, TANYA_MODEL_CACHE_DIR=str(models)
    )
    assert result.returncode == 0, result.stderr
    assert f"export TANYA_EMBEDDING_MODEL=tuned:{(tmp_path / 'kb').resolve()}" in result.stdout
    assert "tanya ingest --rebuild" in result.stdout
    (folder,) = [p for p in models.iterdir() if p.name.startswith("tuned-kb-") and p.is_dir()]
    assert json.loads((folder / MANIFEST).read_text())["epochs"] == 1


def test_tune_command_if_missing_builds_once_then_leaves_the_model_alone(tmp_path: Path) -> None:
    write_kb(tmp_path, dict(KB_FILES))
    models = tmp_path / "models"
    env = {
        **SMALL_KB_ENV,
        "TANYA_MODEL_CACHE_DIR": str(models),
        "TANYA_EMBEDDING_MODEL": "tuned:kb",
        "TANYA_TUNE_EPOCHS": "1",
    }
    first = tanya(tmp_path, "tune", "--if-missing", "--quiet", **env)
    assert first.returncode == 0, first.stderr
    (folder,) = [p for p in models.iterdir() if p.name.startswith("tuned-kb-") and p.is_dir()]
    built = (folder / MANIFEST).read_text()
    again = tanya(tmp_path, "tune", "--if-missing", "--quiet", **env)
    assert again.returncode == 0 and f"Tuned model ready: {folder}" in again.stdout
    assert (folder / MANIFEST).read_text() == built  # not rebuilt


def test_tune_command_on_a_kb_without_alternates_gives_a_plain_error(tmp_path: Path) -> None:
    write_kb(tmp_path, {"faq/one.yaml": "faq:\n  - id: satu\n    question: Apa itu?\n    answer: Itu.\n"})
    result = tanya(
        tmp_path, "tune", "--kb", "kb", "--quiet", **SMALL_KB_ENV, TANYA_MODEL_CACHE_DIR=str(tmp_path / "models")
    )
    assert result.returncode == 1
    assert "cannot fine-tune" in result.stderr and "Traceback" not in result.stderr


def test_the_same_phrasings_and_seed_give_the_same_weights(tmp_path: Path) -> None:
    # CI builds its own model: it must be the one the committed calibration was measured with.
    write_kb(tmp_path, dict(KB_FILES))
    kb = load_knowledge_base([tmp_path / "kb"], tmp_path / "kb")
    normalizer = TextNormalizer(kb.glossary)
    weights = [
        (
            tune_model(BUNDLED_MODEL, kb.entries, tmp_path / name, normalizer=normalizer) / "model.safetensors"
        ).read_bytes()
        for name in ("first", "second")
    ]
    assert weights[0] == weights[1]


def test_length_groups_give_each_text_the_vector_of_one_padded_pass() -> None:
    import torch
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(resolve_model(BUNDLED_MODEL), device="cpu").eval()
    # Lengths from one word to a long sentence, in no order, more texts than one group holds.
    texts = [" ".join(["pulsa", "kuota", "tagihan", "roaming", "paket"][: 1 + i % 5] * (1 + i % 7)) for i in range(41)]
    with torch.no_grad():
        grouped = embed_in_length_groups(model, texts).numpy()
        padded = torch.nn.functional.normalize(model(model.preprocess(texts))["sentence_embedding"], dim=-1).numpy()
    assert grouped.shape == (41, padded.shape[1])
    assert np.abs(grouped - padded).max() < 1e-5
