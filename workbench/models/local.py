"""The embedded model ``local/smollm2``, as other packages may use it.

The run engine checks it can load (and that a ``threads`` setting makes sense) before a run
starts, and the benchmarks compare its access paths; how it runs (one llama.cpp model per
process, serialised calls, one prompt evaluation for all the seeds of a request, an explicit
seed per sample, the thread policy) is :mod:`workbench.models._local`'s business.
Importing this module imports neither litellm nor llama.cpp.
"""

from __future__ import annotations

from workbench.models._local import (
    ENV_GGUF,
    ENV_THREADS,
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
from workbench.models._local_threads import parse_threads
from workbench.models.errors import ModelUnavailable

__all__ = [
    "ENV_GGUF",
    "ENV_THREADS",
    "MODEL_NAME",
    "N_CTX",
    "LocalChatModel",
    "LocalReply",
    "ModelUnavailable",
    "check_local_model_available",
    "close_local_model",
    "is_local_model_loaded",
    "parse_threads",
    "resolve_model_path",
    "thread_count",
]
