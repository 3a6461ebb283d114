"""The one embeddings factory: the shared ONNX export under var/models gives the sentence-transformers vectors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from support.workspace import MODEL_CACHE, make_settings

from bot.retrieval.embedder import OnnxEmbedder, TorchEmbedder, load_embedder, model_identity
from bot.retrieval.model_files import model_cache_key, resolve_model
from bot.settings import BUNDLED_MODEL

SENTENCES = [
    "Bagaimana cara cek sisa pulsa?",
    "gmn cara beli kuota internet yg murah",
    "Kartu SIM saya hilang, bagaimana cara memblokir nomor?",
    "How do I activate international roaming before I travel?",
    "my internet is super slow since yesterday, what APN should I use",
    "Tarif roaming Malaysia Rp25.000 per hari, kuota 1 GB. " * 40,  # longer than the 256-token limit
]


@pytest.fixture(scope="module")
def onnx(tmp_path_factory: pytest.TempPathFactory) -> OnnxEmbedder:
    embedder = load_embedder(make_settings(tmp_path_factory.mktemp("onnx"), embedding_model=BUNDLED_MODEL))
    assert isinstance(embedder, OnnxEmbedder)
    return embedder


@pytest.fixture(scope="module")
def torch_embedder() -> TorchEmbedder:
    return TorchEmbedder(resolve_model(BUNDLED_MODEL))


def test_the_bundled_model_is_exported_once_into_the_shared_cache(tmp_path: Path, onnx: OnnxEmbedder) -> None:
    folder = MODEL_CACHE / model_cache_key(BUNDLED_MODEL)
    assert onnx.folder == folder
    assert {"model.onnx", "tokenizer.json", "pooling.json"} <= {p.name for p in folder.iterdir()}
    exported = (folder / "model.onnx").stat().st_mtime_ns
    again = load_embedder(make_settings(tmp_path, embedding_model=BUNDLED_MODEL))
    assert isinstance(again, OnnxEmbedder) and again.folder == folder
    again.embed_query("halo")
    assert (folder / "model.onnx").stat().st_mtime_ns == exported  # loaded, not exported again
    assert not (folder / "model.onnx.partial").exists()


def test_onnx_vectors_equal_the_sentence_transformers_vectors(
    onnx: OnnxEmbedder, torch_embedder: TorchEmbedder
) -> None:
    expected = np.array(torch_embedder.embed_documents(SENTENCES))
    got = np.array(onnx.embed_documents(SENTENCES))
    assert got.shape == expected.shape == (len(SENTENCES), 384)
    assert np.abs(got - expected).max() < 1e-4
    for sentence in SENTENCES[:4]:
        assert np.abs(np.array(onnx.embed_query(sentence)) - torch_embedder.embed_query(sentence)).max() < 1e-4


def test_vectors_are_unit_length_and_come_back_in_the_callers_order(onnx: OnnxEmbedder) -> None:
    batch = np.array(onnx.embed_documents(SENTENCES))  # embedded shortest first, internally
    assert np.allclose(np.linalg.norm(batch, axis=1), 1.0, atol=1e-5)
    one_by_one = np.array([onnx.embed_documents([s])[0] for s in SENTENCES])
    assert np.abs(batch - one_by_one).max() < 1e-5
    assert onnx.embed_documents([]) == []


def test_query_and_document_prefixes_are_put_before_the_text(onnx: OnnxEmbedder) -> None:
    prefixed = OnnxEmbedder(onnx.folder, query_prefix="query: ", document_prefix="passage: ")
    text = SENTENCES[0]
    assert np.allclose(prefixed.embed_query(text), onnx.embed_documents(["query: " + text])[0], atol=1e-5)
    assert np.allclose(prefixed.embed_documents([text])[0], onnx.embed_documents(["passage: " + text])[0], atol=1e-5)
    assert not np.allclose(prefixed.embed_query(text), onnx.embed_query(text), atol=1e-3)


def test_a_repeated_question_gets_the_same_vector(onnx: OnnxEmbedder) -> None:
    first = onnx.embed_query("paket malam berlaku jam berapa")
    assert onnx.embed_query("paket malam berlaku jam berapa") == first


def test_paraphrases_are_closer_than_unrelated_questions(onnx: OnnxEmbedder) -> None:
    question, paraphrase, unrelated = onnx.embed_documents(
        ["Bagaimana cara cek sisa pulsa?", "cara mengecek saldo pulsa saya", "Siapa presiden pertama Amerika?"]
    )
    assert float(np.dot(question, paraphrase)) > float(np.dot(question, unrelated)) + 0.2


def test_torch_backend_is_chosen_by_settings_without_loading_anything(tmp_path: Path) -> None:
    embedder = load_embedder(make_settings(tmp_path, embedding_model=BUNDLED_MODEL, query_backend="torch"))
    assert isinstance(embedder, TorchEmbedder)
    assert embedder.model == resolve_model(BUNDLED_MODEL)
    assert Path(embedder.model).is_dir()


def test_model_cache_key_is_a_safe_folder_name() -> None:
    assert model_cache_key(BUNDLED_MODEL) == "bundled_all-MiniLM-L6-v2"
    assert model_cache_key("intfloat/multilingual-e5-small") == "intfloat_multilingual-e5-small"
    assert model_cache_key("///") == "model"


def test_a_model_folder_whose_weights_change_in_place_is_exported_again(tmp_path: Path) -> None:
    import shutil

    from safetensors.torch import load_file, save_file

    folder = tmp_path / "my-model"
    shutil.copytree(resolve_model(BUNDLED_MODEL), folder)
    settings = make_settings(tmp_path, embedding_model=str(folder), model_cache_dir=tmp_path / "models")
    before = load_embedder(settings)
    identity = model_identity(settings)
    assert isinstance(before, OnnxEmbedder) and identity.startswith(f"{folder}#")
    question = "Bagaimana cara cek sisa pulsa?"
    old_vector = np.array(before.embed_query(question))

    weights = next(folder.glob("*.safetensors"))
    tensors = load_file(str(weights))
    name = next(n for n in tensors if "word_embeddings" in n)
    tensors[name] = tensors[name].flip(0).contiguous()  # other weights, same shapes: a retrained model
    save_file(tensors, str(weights))

    after = load_embedder(settings)
    assert model_identity(settings) != identity  # so an index built with the old weights asks for a rebuild
    assert isinstance(after, OnnxEmbedder) and after.folder != before.folder
    new_vector = np.array(after.embed_query(question))
    assert np.abs(new_vector - old_vector).max() > 1e-2
    assert np.abs(new_vector - TorchEmbedder(str(folder)).embed_query(question)).max() < 1e-4
