"""LlamaIndex: ``MnemoEmbedding``, a ``BaseEmbedding``.

    from mnemo.integrations.llama_index import MnemoEmbedding
    embed_model = MnemoEmbedding(model_path="~/.cache/mnemo/models/embeddinggemma-300m")
    embed_model.get_text_embedding("Mars is red"); embed_model.get_query_embedding("red planet?")

Texts get the model's document prompt and queries its query prompt.
"""
from __future__ import annotations

import asyncio
from typing import Any, List, Optional

from llama_index.core.base.embeddings.base import BaseEmbedding
from pydantic import PrivateAttr

from .._model import Model


class MnemoEmbedding(BaseEmbedding):
    model_path: Optional[str] = None
    precision: str = "auto"
    threads: int = 0
    truncate_dim: Optional[int] = None
    _model: Model = PrivateAttr()

    def __init__(self, model_path: Optional[str] = None, *, model: Optional[Model] = None, **kwargs: Any):
        if (model is None) == (model_path is None):
            raise ValueError("give MnemoEmbedding a model_path or a model, not both")
        kwargs.setdefault("model_name", "mnemo:" + (model_path or model.model_path))
        super().__init__(model_path=model_path, **kwargs)
        self._model = model if model is not None else Model(model_path, self.precision, self.threads)

    @classmethod
    def class_name(cls) -> str:
        return "MnemoEmbedding"

    def _get_query_embedding(self, query: str) -> List[float]:
        return self._model.encode_query(query, truncate_dim=self.truncate_dim).tolist()

    def _get_text_embedding(self, text: str) -> List[float]:
        return self._model.encode_document(text, truncate_dim=self.truncate_dim).tolist()

    def _get_text_embeddings(self, texts: List[str]) -> List[List[float]]:
        if not texts:
            return []
        return self._model.encode_document(list(texts), truncate_dim=self.truncate_dim).tolist()

    async def _aget_query_embedding(self, query: str) -> List[float]:
        return await asyncio.to_thread(self._get_query_embedding, query)

    async def _aget_text_embedding(self, text: str) -> List[float]:
        return await asyncio.to_thread(self._get_text_embedding, text)
