"""The embedded model ``local/smollm2``, as other packages may use it.

The run engine checks it can load before a run starts, and the benchmarks compare its
access paths; how it runs (one llama.cpp context per process, serialised calls, a fresh KV
cache and an explicit seed per call) is :mod:`workbench.models._local`'s business.
Importing this module imports neither litellm nor llama.cpp.
"""

from __future__ import annotations

from workbench.models._local import (
    ENV_GGUF,
    MODEL_NAME,
    N_CTX,
    LocalChatModel,
    LocalReply,
    check_local_model_available,
    close_local_model,
    is_local_model_loaded,
    resolve_model_path,
    thread_count,
)
from workbench.models.errors import ModelUnavailable

__all__ = [
    "ENV_GGUF",
    "MODEL_NAME",
    "N_CTX",
    "LocalChatModel",
    "LocalReply",
    "ModelUnavailable",
    "check_local_model_available",
    "close_local_model",
    "is_local_model_loaded",
    "resolve_model_path",
    "thread_count",
]
