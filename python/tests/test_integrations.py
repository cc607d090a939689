"""The LangChain and LlamaIndex adapters, each as its framework's own base class."""
import numpy as np
import pytest

import mnemo
from conftest import TINY, need


@pytest.fixture(scope="module")
def model():
    return mnemo.Model(TINY, precision="f32")


def test_langchain(model):
    need("langchain_core")
    from langchain_core.embeddings import Embeddings

    from mnemo.integrations.langchain import MnemoEmbeddings

    emb = MnemoEmbeddings(model=model)
    assert isinstance(emb, Embeddings)
    docs = emb.embed_documents(["Mars is red", "Venus is hot"])
    assert len(docs) == 2 and len(docs[0]) == 64 and isinstance(docs[0][0], float)
    assert np.allclose(docs, model.encode_document(["Mars is red", "Venus is hot"]))
    q = emb.embed_query("Which planet is red?")
    assert np.allclose(q, model.encode_query("Which planet is red?"))
    assert emb.embed_documents([]) == []
    small = MnemoEmbeddings(TINY, truncate_dim=16)
    assert len(small.embed_query("x")) == 16

    import asyncio

    assert np.allclose(asyncio.run(emb.aembed_query("Which planet is red?")), q)
    # LangChain's own in-memory vector store over it
    from langchain_core.vectorstores import InMemoryVectorStore

    store = InMemoryVectorStore.from_texts(["Mars is red", "Venus is hot", "figs are sweet"], emb)
    assert len(store.similarity_search("red planet", k=2)) == 2
    with pytest.raises(ValueError):
        MnemoEmbeddings()


def test_llama_index(model):
    need("llama_index.core")
    from llama_index.core.base.embeddings.base import BaseEmbedding

    from mnemo.integrations.llama_index import MnemoEmbedding

    emb = MnemoEmbedding(model=model)
    assert isinstance(emb, BaseEmbedding)
    t = emb.get_text_embedding("Mars is red")
    assert np.allclose(t, model.encode_document("Mars is red"))
    q = emb.get_query_embedding("Which planet is red?")
    assert np.allclose(q, model.encode_query("Which planet is red?"))
    many = emb.get_text_embedding_batch(["a", "b", "c"])
    assert np.allclose(many, model.encode_document(["a", "b", "c"]))
    small = MnemoEmbedding(TINY, truncate_dim=16, precision="f32")
    assert len(small.get_query_embedding("x")) == 16

    import asyncio

    assert np.allclose(asyncio.run(emb.aget_query_embedding("Which planet is red?")), q)
    with pytest.raises(ValueError):
        MnemoEmbedding()
