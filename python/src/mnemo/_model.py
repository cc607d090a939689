"""mnemo.Model: sentence-transformers' encode() over mnemo's C engine."""
from __future__ import annotations

import errno
import os
import threading
from typing import Dict, Iterable, List, Optional, Sequence, Union

import numpy as np

from . import _mnemo

# Names people pass for the engine's precisions, as sentence-transformers and
# torch spell them.
_PRECISION_ALIASES = {"float32": "f32", "fp32": "f32", "bfloat16": "bf16", "auto": None, None: None}
_OUTPUT_PRECISIONS = ("float32", "int8", "uint8", "binary", "ubinary")


class Model:
    """An embedding model run by mnemo's engine, used like sentence-transformers'
    ``SentenceTransformer``.

    ``path``: a model folder in the sentence-transformers layout
    (google/embeddinggemma-300m as downloaded) or a ``.gguf`` file with the
    model's tokenizer.json beside it. Nothing is downloaded.

    ``precision``: the weights' precision: "auto" (the fastest that keeps
    cosine >= 0.995 against sentence-transformers: int8 on CPUs with
    AVX512-VNNI or AVX-VNNI, else the file's), "f32", "bf16", "int8", "q4" or "file".

    ``threads``: the engine's threads per call; 0 is every CPU the process may
    use. Each Python thread that embeds at the same time gets its own engine
    context (see ``encode``), so several threads each with ``threads=0``
    share the CPUs between them.

    ``truncate_dim``: a Matryoshka width for every encode call that does not
    pass one (768, 512, 256, 128 for EmbeddingGemma).

    ``max_input_chars``: longer inputs are refused with ValueError before any
    work (the engine keeps only the first ``max_seq_length`` tokens, and a
    text this long is far past that).
    """

    def __init__(
        self,
        path: Union[str, os.PathLike],
        precision: Optional[str] = "auto",
        threads: int = 0,
        *,
        truncate_dim: Optional[int] = None,
        cache_dir: Optional[Union[str, os.PathLike]] = None,
        tokenizer: Optional[Union[str, os.PathLike]] = None,
        max_input_chars: int = 1 << 20,
        max_batch_tokens: int = 0,
    ):
        path = os.path.expanduser(os.fspath(path))
        if not os.path.exists(path):
            raise FileNotFoundError(
                errno.ENOENT,
                "no model folder or .gguf file here (mnemo downloads nothing: get the model first, "
                "e.g. with the repository's scripts/get-model.sh)",
                path,
            )
        if not isinstance(threads, int) or threads < 0:
            raise ValueError(f"threads must be an int >= 0 (0: every CPU), not {threads!r}")
        engine_precision = _PRECISION_ALIASES.get(precision, precision)
        self._model = _mnemo.Model(
            path,
            engine_precision,
            os.fspath(cache_dir) if cache_dir is not None else None,
            os.fspath(tokenizer) if tokenizer is not None else None,
        )
        self.model_path = path
        self._threads = threads
        self._max_batch_tokens = max_batch_tokens
        self.max_input_chars = max_input_chars
        self.prompts: Dict[str, str] = dict(self._model.prompts())
        default = self._model.default_prompt()
        self.default_prompt_name: Optional[str] = next(
            (n for n, t in self.prompts.items() if default and t == default), None
        )
        self.truncate_dim = self._check_dim(truncate_dim)
        self.similarity_fn_name = "cosine"
        # Idle engine contexts. A context serves one caller at a time, so each
        # call takes one (or makes one when all are busy) and puts it back:
        # N threads embedding at once use N contexts, and a single-threaded
        # program keeps exactly one.
        self._idle: List[_mnemo.Context] = []
        self._lock = threading.Lock()

    # ------------------------------------------------------------- facts

    @property
    def max_seq_length(self) -> int:
        """Most tokens one input may have, <bos> and <eos> included; longer inputs
        are truncated (keeping <eos> last), as sentence-transformers does."""
        return self._model.max_tokens

    @property
    def precision(self) -> str:
        """The precision the weights run at on this CPU ("f32", "bf16", "int8", "q4", "mixed")."""
        return self._model.precision

    @property
    def kernels(self) -> str:
        """The kernel table chosen for this CPU (e.g. "avx512-vnni")."""
        return self._model.kernels

    def get_sentence_embedding_dimension(self) -> int:
        """The width of the vectors encode() returns (truncate_dim if the model has one)."""
        return self.truncate_dim or self._model.dim

    get_embedding_dimension = get_sentence_embedding_dimension

    def __repr__(self) -> str:
        return (f"mnemo.Model({self.model_path!r}, precision={self.precision!r}, "
                f"dim={self._model.dim}, kernels={self.kernels!r})")

    # ---------------------------------------------------------- encoding

    def encode(
        self,
        sentences: Union[str, Sequence[str]],
        prompt_name: Optional[str] = None,
        prompt: Optional[str] = None,
        batch_size: int = 32,
        show_progress_bar: Optional[bool] = None,
        output_value: Optional[str] = "sentence_embedding",
        precision: str = "float32",
        convert_to_numpy: bool = True,
        convert_to_tensor: bool = False,
        device: Optional[str] = None,
        normalize_embeddings: bool = True,
        truncate_dim: Optional[int] = None,
    ) -> Union[np.ndarray, List[np.ndarray]]:
        """Embeds one text (a 1-d array back) or a list of texts (an (n, d) array).

        As sentence-transformers' ``encode``: ``prompt`` (text prepended to each
        input) wins over ``prompt_name`` (one of ``self.prompts``); with neither
        the model's default prompt, if any. ``truncate_dim``: a Matryoshka
        width. ``precision``: "float32", or "int8", "uint8", "binary",
        "ubinary" as ``quantize_embeddings`` makes them (int8/uint8 ranges from
        this call's vectors). ``convert_to_numpy=False`` gives a list of 1-d
        arrays. The engine's vectors are unit length (the model ends in
        Normalize); with ``normalize_embeddings=False`` a ``truncate_dim``
        prefix is not renormalized, as sentence-transformers does.
        ``device`` may only be None or "cpu"; ``convert_to_tensor`` and
        ``output_value`` other than "sentence_embedding" are refused (no torch).

        The engine runs with the GIL released: threads encode in parallel.
        """
        if convert_to_tensor:
            raise ValueError("convert_to_tensor: mnemo has no torch; use convert_to_numpy")
        if output_value != "sentence_embedding":
            raise ValueError(f"output_value {output_value!r}: mnemo gives sentence embeddings only")
        if device not in (None, "cpu"):
            raise ValueError(f"device {device!r}: mnemo runs on the CPU")
        if precision not in _OUTPUT_PRECISIONS:
            raise ValueError(f"precision {precision!r} is not one of {', '.join(_OUTPUT_PRECISIONS)}")
        if not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"batch_size must be an int >= 1, not {batch_size!r}")
        single = isinstance(sentences, str)
        texts = [sentences] if single else _as_text_list(sentences)
        for i, t in enumerate(texts):
            if not isinstance(t, str):
                raise TypeError(f"sentences[{i}] is {type(t).__name__}, not str")
            if len(t) > self.max_input_chars:
                raise ValueError(
                    f"sentences[{i}] has {len(t)} characters; at most {self.max_input_chars} "
                    f"(max_input_chars): the model reads only its first {self.max_seq_length} tokens, "
                    "so split the text or raise max_input_chars"
                )
        if prompt_name is not None and prompt is None and prompt_name not in self.prompts:
            names = ", ".join(self.prompts) or "none"
            raise ValueError(f"prompt_name {prompt_name!r} is not one of this model's prompts: {names}")
        dim = self._check_dim(truncate_dim if truncate_dim is not None else self.truncate_dim)
        width = self._model.dim
        # The engine renormalizes a Matryoshka prefix; sentence-transformers
        # without normalize_embeddings slices the unit vector and stops.
        engine_dim = dim if (dim and normalize_embeddings) else 0
        out = np.empty((len(texts), engine_dim or width), dtype=np.float32)
        bar = _progress(len(texts), show_progress_bar)
        ctx = self._take_context()
        try:
            for start in range(0, len(texts), batch_size):
                chunk = texts[start:start + batch_size]
                ctx.embed(chunk, prompt, prompt_name, engine_dim, out[start:start + len(chunk)])
                if bar is not None:
                    bar.update(len(chunk))
        finally:
            self._give_back(ctx)
            if bar is not None:
                bar.close()
        if dim and not engine_dim:
            out = np.ascontiguousarray(out[:, :dim])
        if precision != "float32":
            out = quantize_embeddings(out, precision)
        if single:
            return out[0]
        if not convert_to_numpy:
            return list(out)
        return out

    def encode_query(self, sentences, prompt_name: Optional[str] = None, prompt: Optional[str] = None, **kwargs):
        """encode() with the model's "query" prompt unless another is given."""
        if prompt_name is None and prompt is None and "query" in self.prompts:
            prompt_name = "query"
        return self.encode(sentences, prompt_name=prompt_name, prompt=prompt, **kwargs)

    def encode_document(self, sentences, prompt_name: Optional[str] = None, prompt: Optional[str] = None,
                        **kwargs):
        """encode() with the model's "document" prompt ("passage" or "corpus" if it
        has no "document") unless another is given."""
        if prompt_name is None and prompt is None:
            prompt_name = next((n for n in ("document", "passage", "corpus") if n in self.prompts), None)
        return self.encode(sentences, prompt_name=prompt_name, prompt=prompt, **kwargs)

    def tokenize(self, texts: Union[str, Sequence[str]], prompt_name: Optional[str] = None,
                 prompt: Optional[str] = None) -> Dict[str, np.ndarray]:
        """The ids the model runs: {"input_ids", "attention_mask"}, int64 arrays of
        shape (n, longest), right-padded with <pad>. As sentence-transformers'
        tokenize: <bos> and <eos> added, truncated to max_seq_length keeping
        <eos> last, no prompt unless one is asked for (``prompt`` text or
        ``prompt_name``). The ids are those of Hugging Face tokenizers on the
        model's tokenizer.json."""
        texts = [texts] if isinstance(texts, str) else _as_text_list(texts)
        if prompt is None:
            if prompt_name is not None:
                if prompt_name not in self.prompts:
                    raise ValueError(f"prompt_name {prompt_name!r} is not one of this model's prompts")
                prompt = self.prompts[prompt_name]
            else:
                prompt = ""
        rows = self._model.tokenize(texts, prompt)
        longest = max((len(r) for r in rows), default=0)
        ids = np.full((len(rows), longest), self._model.pad_id, dtype=np.int64)
        mask = np.zeros((len(rows), longest), dtype=np.int64)
        for i, r in enumerate(rows):
            ids[i, :len(r)] = r
            mask[i, :len(r)] = 1
        return {"input_ids": ids, "attention_mask": mask}

    # -------------------------------------------------------- similarity

    @staticmethod
    def similarity(a, b) -> np.ndarray:
        """The cosine of every row of ``a`` with every row of ``b``: an (n, m)
        float32 matrix (1-d inputs count as one row), as sentence-transformers'
        ``similarity`` with its default cosine."""
        return similarity(a, b)

    @staticmethod
    def similarity_pairwise(a, b) -> np.ndarray:
        """The cosine of row i of ``a`` with row i of ``b``: n values."""
        a = _rows(a)
        b = _rows(b)
        if a.shape != b.shape:
            raise ValueError(f"similarity_pairwise needs arrays of one shape, not {a.shape} and {b.shape}")
        return np.einsum("ij,ij->i", _unit(a), _unit(b)).astype(np.float32)

    # ------------------------------------------------------------ contexts

    def _take_context(self) -> "_mnemo.Context":
        with self._lock:
            if self._idle:
                return self._idle.pop()
        return _mnemo.Context(self._model, self._threads, self._max_batch_tokens)

    def _give_back(self, ctx: "_mnemo.Context") -> None:
        with self._lock:
            self._idle.append(ctx)

    def _check_dim(self, dim: Optional[int]) -> Optional[int]:
        if dim is None:
            return None
        width = self._model.dim
        if isinstance(dim, bool) or not isinstance(dim, (int, np.integer)) or not 1 <= dim <= width:
            raise ValueError(f"truncate_dim must be an int in 1..{width}, or None for the full width; not {dim!r}")
        return None if dim == width else int(dim)


def _as_text_list(sentences) -> list:
    if isinstance(sentences, (bytes, bytearray)):
        raise TypeError("sentences must be a str or a list of str, not bytes (decode it first)")
    try:
        texts = list(sentences)
    except TypeError:
        raise TypeError(f"sentences must be a str or a list of str, not {type(sentences).__name__}") from None
    if not texts:
        raise ValueError("sentences is empty: give at least one text")
    return texts


def _progress(total: int, show: Optional[bool]):
    """A tqdm bar when asked for and tqdm is installed, else None."""
    if not show:
        return None
    try:
        from tqdm.auto import tqdm
    except ImportError:
        return None
    return tqdm(total=total, desc="Batches", unit="text")


def _rows(x) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    if x.ndim == 1:
        x = x[None, :]
    if x.ndim != 2:
        raise ValueError(f"expected vectors as a 1-d or 2-d array, not {x.ndim}-d")
    return x


def _unit(x: np.ndarray) -> np.ndarray:
    n = np.linalg.norm(x, axis=1, keepdims=True)
    return x / np.where(n == 0, 1, n)


def similarity(a, b) -> np.ndarray:
    """The cosine of every row of ``a`` with every row of ``b``: an (n, m) float32 matrix."""
    a = _rows(a)
    b = _rows(b)
    if a.shape[1] != b.shape[1]:
        raise ValueError(f"vectors of different widths: {a.shape[1]} and {b.shape[1]}")
    return (_unit(a) @ _unit(b).T).astype(np.float32)


def quantize_embeddings(embeddings, precision: str, ranges: Optional[np.ndarray] = None,
                        calibration_embeddings: Optional[np.ndarray] = None) -> np.ndarray:
    """Float vectors at a lower precision, with sentence-transformers'
    ``quantize_embeddings`` semantics:

    - "float32": as is.
    - "int8" / "uint8": each dimension cut into 256 buckets between its
      minimum and maximum over ``ranges`` (shape (2, d)), else over
      ``calibration_embeddings``, else over ``embeddings`` themselves (which
      needs at least two rows); uint8 is the bucket 0..255, int8 the bucket
      minus 128.
    - "ubinary": one bit per dimension, set when the value is > 0, packed
      eight to a byte (numpy.packbits, first dimension in the high bit);
      "binary": the same bytes minus 128, as int8.
    """
    x = np.asarray(embeddings)
    if x.dtype in (np.int8, np.uint8):
        raise ValueError("embeddings to quantize must be float, not int8 or uint8")
    x = x.astype(np.float32, copy=False)
    if precision == "float32":
        return x
    if precision in ("int8", "uint8"):
        if ranges is None:
            source = x if calibration_embeddings is None else np.asarray(calibration_embeddings, np.float32)
            if source.ndim == 1 or source.shape[0] < 2:
                raise ValueError(
                    f"cannot compute {precision} ranges from a single embedding: pass ranges or "
                    "calibration_embeddings from a representative set"
                )
            ranges = np.vstack((source.min(axis=0), source.max(axis=0)))
        ranges = np.asarray(ranges, dtype=np.float32)
        starts = ranges[0]
        steps = (ranges[1] - starts) / 255
        steps = np.where(steps == 0, 1, steps)
        buckets = np.clip(np.floor((x - starts) / steps), 0, 255)
        return buckets.astype(np.uint8) if precision == "uint8" else (buckets - 128).astype(np.int8)
    if precision == "ubinary":
        return np.packbits(x > 0, axis=-1)
    if precision == "binary":
        return (np.packbits(x > 0, axis=-1).astype(np.int16) - 128).astype(np.int8)
    raise ValueError(f"precision {precision!r} is not one of {', '.join(_OUTPUT_PRECISIONS)}")
