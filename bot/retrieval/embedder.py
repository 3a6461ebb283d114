"""The one embeddings factory: ingest and the bot get their vectors from the same model and normalisation.

Importing sentence-transformers (and PyTorch) costs 7-10 s on these machines, and one torch encode ~20 ms.
So the model is exported once to ONNX (into `model_cache_dir`) and every later process embeds with
onnxruntime + tokenizers: well under a second to start and ~5 ms a question, with the same vectors
(max abs difference ~1e-7, checked by the tests).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import threading
from collections import Counter, OrderedDict
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
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
# A bulk batch holds texts of like token count up to this many tokens, padding included (~37 FAQ phrasings, or 4
# document sections of 256 tokens). Measured on the demo kb's 1,689 texts, one thread: 32 texts a batch sorted by
# characters padded 23% of the tokens and took 24.6 s of CPU; by token count in 1,024-token batches, 2% and 16.7 s
# (larger batches ran slower again: 2,048 tokens 18.8 s, 32 texts 21.0 s; they outgrow the caches).
_BATCH_TOKENS = 1024


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
        self._unpadded_tokenizer: Any = None  # for bulk embedding, which pads each batch itself
        self._pad_id = 0
        self._workers = 1
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
            # One thread a run; bulk embedding runs one batch on each core instead (`_workers`), and concurrent
            # questions get a core each. Splitting each run between 2 cores cost more, mostly onnxruntime's threads
            # spinning while they wait; measured with other work sharing the 2 cores: the demo kb 24-27 s of CPU
            # against 19.5-20.5 s, a question's p50 22-24 ms against 11-14 ms.
            options.intra_op_num_threads = 1
            options.log_severity_level = 3
            session = onnxruntime.InferenceSession(str(self.folder / "model.onnx"), options)
            unpadded = Tokenizer.from_file(str(self.folder / "tokenizer.json"))
            unpadded.enable_truncation(_MAX_TOKENS)
            tokenizer = Tokenizer.from_file(str(self.folder / "tokenizer.json"))
            tokenizer.enable_truncation(_MAX_TOKENS)
            tokenizer.enable_padding()
            self._pad_id = int((tokenizer.padding or {}).get("pad_id", 0))
            self._pooling = json.loads((self.folder / "pooling.json").read_text())["mode"]
            self._input_names = tuple(i.name for i in session.get_inputs())
            self._workers = min(2, os.cpu_count() or 1)
            self._unpadded_tokenizer = unpadded
            self._tokenizer = tokenizer
            self._session = session

    def _encode(self, texts: list[str]) -> np.ndarray:
        self.warm_up()
        encodings = self._tokenizer.encode_batch(texts)
        ids = np.array([e.ids for e in encodings], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
        return self._run(ids, mask)

    def _run(self, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """The normalised sentence vectors of a padded batch of token ids."""
        assert self._session is not None
        feeds = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
        hidden = self._session.run(None, {name: feeds[name] for name in self._input_names})[0]
        if self._pooling == "cls":
            pooled = hidden[:, 0]
        else:
            weights = mask[..., None].astype(hidden.dtype)
            pooled = (hidden * weights).sum(axis=1) / np.clip(weights.sum(axis=1), 1e-9, None)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        return pooled / np.clip(norms, 1e-12, None)

    def embed_documents(self, texts: list[str], progress: Callable[[int], None] | None = None) -> list[list[float]]:
        """The texts' vectors in the caller's order; `progress` (if given) hears how many of them each batch did.

        Each distinct text is tokenized once and embedded once. Batches are cut from the texts sorted by token
        count, so they pad almost nothing, and one batch runs on each core. A text's vector does not depend on its
        batch (attention ignores the padding): the demo kb's vectors equal those of 32-text batches to the bit.
        """
        self.warm_up()
        copies = Counter(texts)
        distinct = list(copies)
        encodings = self._unpadded_tokenizer.encode_batch([self.document_prefix + t for t in distinct])
        lengths = [len(e.ids) for e in encodings]
        order = sorted(range(len(distinct)), key=lengths.__getitem__)
        batches: list[list[int]] = []
        for position in order:  # ascending length: the newest text is the batch's longest
            if batches and (len(batches[-1]) + 1) * lengths[position] <= _BATCH_TOKENS:
                batches[-1].append(position)
            else:
                batches.append([position])

        def run(batch: list[int]) -> np.ndarray:
            ids = np.full((len(batch), lengths[batch[-1]]), self._pad_id, dtype=np.int64)
            mask = np.zeros_like(ids)
            for row, position in enumerate(batch):
                ids[row, : lengths[position]] = encodings[position].ids
                mask[row, : lengths[position]] = 1
            return self._run(ids, mask)

        vector_of: dict[str, list[float]] = {}
        with contextlib.ExitStack() as stack:
            done: Iterator[np.ndarray] = map(run, batches)
            if self._workers > 1 and len(batches) > 1:
                pool = stack.enter_context(ThreadPoolExecutor(self._workers, thread_name_prefix="embed"))
                done = pool.map(run, batches)
            for batch, encoded in zip(batches, done, strict=True):
                vector_of.update(zip((distinct[p] for p in batch), encoded.tolist(), strict=True))
                if progress is not None:
                    progress(sum(copies[distinct[p]] for p in batch))
        return [vector_of[t] for t in texts]

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
