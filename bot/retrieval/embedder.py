"""The one embeddings factory: ingest and the bot get their vectors from the same model and normalisation.

Importing sentence-transformers (and PyTorch) costs 7-10 s on these machines, and one torch encode ~20 ms.
So the model is exported once to ONNX (into `model_cache_dir`) and every later process embeds with
onnxruntime + tokenizers: well under a second to start and ~5 ms a question, with the same vectors
(max abs difference ~1e-7, checked by the tests).
"""

from __future__ import annotations

import json
import logging
import os
import threading
from collections import OrderedDict
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from langchain_core.embeddings import Embeddings

from bot.retrieval.model_files import model_cache_key, offline_if_bundled, resolve_model, weights_fingerprint
from bot.retrieval.tuned_models import built_tuned_model, read_manifest
from bot.settings import Settings, is_tuned

if TYPE_CHECKING:
    import onnxruntime

log = logging.getLogger(__name__)

_MAX_TOKENS = 256
_ONNX_INPUTS = ("input_ids", "attention_mask", "token_type_ids")


def model_identity(settings: Settings) -> str:
    """What the index records as its model: the setting, plus the weights' fingerprint for a `tuned:` model or a
    local model folder (whose weights can be replaced in place; the ONNX export and the index must not outlive them).
    """
    if not is_tuned(settings.model.embedding_model):
        local = Path(settings.model.embedding_model).expanduser()
        if local.is_dir():
            return f"{settings.model.embedding_model}#{weights_fingerprint(local)}"
        return settings.model.embedding_model
    folder = built_tuned_model(settings)  # naming a model never trains it: `ingest.tuning` does
    manifest = read_manifest(folder) or {}
    # Named by its folder, so "tuned:kb" and "tuned:/path/to/kb" are the same model.
    return f"tuned:{folder.name}#{manifest.get('fingerprint', '?')}"


class OnnxEmbedder(Embeddings):
    """Embeds with an exported ONNX transformer, mean/CLS pooling and L2 normalisation."""

    def __init__(self, folder: Path, query_prefix: str = "", document_prefix: str = "") -> None:
        self.folder = folder
        self.query_prefix = query_prefix
        self.document_prefix = document_prefix
        self._session: onnxruntime.InferenceSession | None = None
        self._tokenizer: Any = None
        self._pooling = "mean"
        self._input_names: tuple[str, ...] = ()
        self._load_lock = threading.Lock()
        self._cache: OrderedDict[str, list[float]] = OrderedDict()

    def warm_up(self) -> None:
        """Load the session and tokenizer (once)."""
        with self._load_lock:
            if self._session is not None:
                return
            import onnxruntime
            from tokenizers import Tokenizer

            options = onnxruntime.SessionOptions()
            options.intra_op_num_threads = min(2, os.cpu_count() or 1)
            options.log_severity_level = 3
            session = onnxruntime.InferenceSession(str(self.folder / "model.onnx"), options)
            tokenizer = Tokenizer.from_file(str(self.folder / "tokenizer.json"))
            tokenizer.enable_truncation(_MAX_TOKENS)
            tokenizer.enable_padding()
            self._pooling = json.loads((self.folder / "pooling.json").read_text())["mode"]
            self._input_names = tuple(i.name for i in session.get_inputs())
            self._tokenizer = tokenizer
            self._session = session

    def _encode(self, texts: list[str]) -> np.ndarray:
        self.warm_up()
        assert self._session is not None
        encodings = self._tokenizer.encode_batch(texts)
        ids = np.array([e.ids for e in encodings], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
        feeds = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
        hidden = self._session.run(None, {name: feeds[name] for name in self._input_names})[0]
        if self._pooling == "cls":
            pooled = hidden[:, 0]
        else:
            weights = mask[..., None].astype(hidden.dtype)
            pooled = (hidden * weights).sum(axis=1) / np.clip(weights.sum(axis=1), 1e-9, None)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        return pooled / np.clip(norms, 1e-12, None)

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        # Batches of similar length waste less work on padding; results go back in the caller's order.
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        vectors: list[list[float]] = [[] for _ in texts]
        for start in range(0, len(order), 32):
            positions = order[start : start + 32]
            encoded = self._encode([self.document_prefix + texts[i] for i in positions])
            for position, vector in zip(positions, encoded.tolist(), strict=True):
                vectors[position] = vector
        return vectors

    def embed_query(self, text: str) -> list[float]:
        cached = self._cache.get(text)
        if cached is not None:
            self._cache.move_to_end(text)
            return cached
        vector: list[float] = self._encode([self.query_prefix + text])[0].tolist()
        self._cache[text] = vector
        if len(self._cache) > 2048:
            self._cache.popitem(last=False)
        return vector


class TorchEmbedder(Embeddings):
    """Embeds with sentence-transformers on PyTorch (used where no ONNX export can be made)."""

    def __init__(self, model: str, query_prefix: str = "", document_prefix: str = "") -> None:
        self.model = model
        self.query_prefix = query_prefix
        self.document_prefix = document_prefix
        self._st: Any = None

    def warm_up(self) -> None:
        if self._st is None:
            from sentence_transformers import SentenceTransformer

            self._st = SentenceTransformer(self.model, device="cpu")

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        self.warm_up()
        prefixed = [self.document_prefix + t for t in texts]
        vectors: list[list[float]] = self._st.encode(prefixed, normalize_embeddings=True, batch_size=32).tolist()
        return vectors

    def embed_query(self, text: str) -> list[float]:
        self.warm_up()
        vector: list[float] = self._st.encode([self.query_prefix + text], normalize_embeddings=True)[0].tolist()
        return vector


def export_onnx(model: str, folder: Path) -> None:
    """Export a sentence-transformers model's transformer, tokenizer and pooling mode to `folder`."""
    import torch
    from sentence_transformers import SentenceTransformer

    st = SentenceTransformer(model, device="cpu")
    transformer: Any = st[0].auto_model
    transformer.eval()
    tokenizer = st.tokenizer
    pooling = "cls" if len(st) > 1 and getattr(st[1], "pooling_mode_cls_token", False) else "mean"

    class _LastHidden(torch.nn.Module):
        def __init__(self, inner: torch.nn.Module) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
            return self.inner(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            ).last_hidden_state

    sample = tokenizer(["contoh kalimat"], return_tensors="pt", return_token_type_ids=True)
    folder.mkdir(parents=True, exist_ok=True)
    partial = folder / "model.onnx.partial"
    with torch.no_grad():
        torch.onnx.export(
            _LastHidden(transformer),
            tuple(sample[name] for name in _ONNX_INPUTS),
            str(partial),
            input_names=list(_ONNX_INPUTS),
            output_names=["last_hidden_state"],
            dynamic_axes={name: {0: "batch", 1: "tokens"} for name in (*_ONNX_INPUTS, "last_hidden_state")},
            opset_version=17,
            dynamo=False,
        )
    tokenizer.backend_tokenizer.save(str(folder / "tokenizer.json"))
    (folder / "pooling.json").write_text(json.dumps({"mode": pooling, "source": model}))
    partial.replace(folder / "model.onnx")  # last, so a half-written export is never used


def load_embedder(settings: Settings) -> Embeddings:
    """The embedder for ingest and questions: ONNX when available (exporting once), else PyTorch.

    Loading never trains: a `tuned:` model this machine has not built yet raises `TunedModelMissingError`
    (`ingest.tuning.ensure_tuned_model` builds it; the CLI does before it opens an index).
    """
    tuned = is_tuned(settings.model.embedding_model)
    offline_if_bundled(settings.tuning.base_model if tuned else settings.model.embedding_model)
    model = str(built_tuned_model(settings)) if tuned else resolve_model(settings.model.embedding_model)
    prefixes = {"query_prefix": settings.model.query_prefix, "document_prefix": settings.model.document_prefix}
    if settings.model.query_backend == "torch":
        return TorchEmbedder(model, **prefixes)
    identity = model_identity(settings)
    folder = settings.model.cache_dir / model_cache_key(identity)
    if not (folder / "model.onnx").exists():
        try:
            log.info("Exporting %s to ONNX once, into %s", identity, folder)
            export_onnx(model, folder)
        except Exception as error:  # an architecture the exporter cannot trace still works on PyTorch
            if settings.model.query_backend == "onnx":
                raise
            log.warning("ONNX export failed (%s); embedding with PyTorch", error)
            return TorchEmbedder(model, **prefixes)
    return OnnxEmbedder(folder, **prefixes)
