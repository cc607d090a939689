"""LangChain: ``MnemoEmbeddings``, a ``langchain_core.embeddings.Embeddings``.

    from mnemo.integrations.langchain import MnemoEmbeddings
    emb = MnemoEmbeddings(model_path="~/.cache/mnemo/models/embeddinggemma-300m")
    emb.embed_documents(["Mars is red"]); emb.embed_query("Which planet is red?")

Documents get the model's document prompt and queries its query prompt, as
EmbeddingGemma is trained; pass ``model=`` to share one mnemo.Model.
"""
from __future__ import annotations

import asyncio
from typing import List, Optional

from langchain_core.embeddings import Embeddings

from .._model import Model


class MnemoEmbeddings(Embeddings):
    def __init__(self, model_path: Optional[str] = None, *, model: Optional[Model] = None,
                 precision: str = "auto", threads: int = 0, truncate_dim: Optional[int] = None,
                 batch_size: int = 32):
        if (model is None) == (model_path is None):
            raise ValueError("give MnemoEmbeddings a model_path or a model, not both")
        self.model = model if model is not None else Model(model_path, precision, threads)
        self.truncate_dim = truncate_dim
        self.batch_size = batch_size

    def embed_documents(self, texts: List[str]) -> List[List[float]]:
        if not texts:
            return []
        return self.model.encode_document(list(texts), batch_size=self.batch_size,
                                          truncate_dim=self.truncate_dim).tolist()

    def embed_query(self, text: str) -> List[float]:
        return self.model.encode_query(text, truncate_dim=self.truncate_dim).tolist()

    # The engine releases the GIL, so a worker thread keeps the event loop free.
    async def aembed_documents(self, texts: List[str]) -> List[List[float]]:
        return await asyncio.to_thread(self.embed_documents, texts)

    async def aembed_query(self, text: str) -> List[float]:
        return await asyncio.to_thread(self.embed_query, text)
