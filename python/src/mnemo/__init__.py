"""mnemo: EmbeddingGemma on the CPU, in process.

mnemo's C engine (the same one the `mnemo` server runs) behind the shape of
sentence-transformers' SentenceTransformer, so switching is a changed import::

    from mnemo import Model
    model = Model("~/.cache/mnemo/models/embeddinggemma-300m")
    vectors = model.encode(["Mars is red", "Venus is hot"])   # (2, 768) float32

See python/README.md in the repository for everything else.
"""
import os as _os

from ._mnemo import MnemoError, engine_version, set_log_level
from ._model import Model, quantize_embeddings, similarity

__version__ = "0.1.0"
__all__ = ["Model", "MnemoError", "quantize_embeddings", "similarity", "set_log_level", "engine_version",
           "__version__"]

# The engine's stderr log: warnings and errors unless MNEMO_LOG_LEVEL says
# otherwise (the mnemo command's default too).
try:
    set_log_level(_os.environ.get("MNEMO_LOG_LEVEL") or "warn")
except ValueError:  # a misspelt level must not make the import fail
    set_log_level("warn")
