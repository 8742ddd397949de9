"""LoRA weights written as a GGUF LoRA adapter, the format llama.cpp loads beside its base.

Why GGUF and not merged weights: the tuned model must run on the same engine and the same
Q4_1 base as the untuned runs, or a before/after comparison measures the quantisation too;
merging the LoRA into the weights and quantising again to Q4_1 rounds the small update away.
llama.cpp applies an adapter at load time (``Llama(lora_path=...)``) in full precision.

Two details of llama.cpp's llama models matter here:

* its Q and K projections are stored with the rows of each head permuted (interleaved
  rotary halves, as llama.cpp's converter does); ``transformers`` undoes that when it loads
  a GGUF, so the LoRA's B matrices of ``q_proj``/``k_proj`` are permuted back here
  (``W = B·A``: permuting W's rows is permuting B's);
* tensors are named ``blk.N.<tensor>.weight.lora_a`` / ``.lora_b``, with ``adapter.lora.alpha``
  giving the scale (llama.cpp applies ``alpha / rank``, like peft).

Only :mod:`gguf` and :mod:`numpy` are needed (both come with the ``finetune`` extra).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# Hugging Face llama module names → llama.cpp's tensor names (``blk.{layer}.{name}``).
TENSOR_NAMES: Mapping[str, str] = {
    "self_attn.q_proj": "attn_q",
    "self_attn.k_proj": "attn_k",
    "self_attn.v_proj": "attn_v",
    "self_attn.o_proj": "attn_output",
    "mlp.gate_proj": "ffn_gate",
    "mlp.up_proj": "ffn_up",
    "mlp.down_proj": "ffn_down",
}
TARGET_MODULES = tuple(name.split(".")[-1] for name in TENSOR_NAMES)


@dataclass(frozen=True)
class LoraPair:
    """One adapted projection: ``A`` is (rank, in), ``B`` is (out, rank), as peft holds them."""

    layer: int
    module: str  # a key of TENSOR_NAMES, e.g. "self_attn.q_proj"
    a: Any  # numpy array
    b: Any  # numpy array


def permute_rows(weights: Any, n_head: int) -> Any:
    """Hugging Face's Q/K row order → llama.cpp's (the permutation its converter applies)."""
    rows = weights.shape[0]
    return (weights.reshape(n_head, 2, rows // n_head // 2, *weights.shape[1:])
            .swapaxes(1, 2)
            .reshape(weights.shape))


def write_lora_gguf(path: str | os.PathLike[str], pairs: list[LoraPair], *, alpha: float,
                    n_head: int, n_head_kv: int, architecture: str = "llama",
                    name: str = "lora") -> Path:
    """Write ``pairs`` as a llama.cpp LoRA adapter at ``path`` (float32 tensors)."""
    import gguf
    import numpy as np

    writer = gguf.GGUFWriter(str(path), architecture)
    writer.add_string(gguf.Keys.General.TYPE, gguf.GGUFType.ADAPTER)
    writer.add_string(gguf.Keys.General.NAME, name)
    writer.add_string(gguf.Keys.Adapter.TYPE, "lora")
    writer.add_float32(gguf.Keys.Adapter.LORA_ALPHA, float(alpha))
    for pair in sorted(pairs, key=lambda p: (p.layer, p.module)):
        base = f"blk.{pair.layer}.{TENSOR_NAMES[pair.module]}.weight"
        a = np.ascontiguousarray(pair.a, dtype=np.float32)
        b = np.asarray(pair.b, dtype=np.float32)
        if pair.module == "self_attn.q_proj":
            b = permute_rows(b, n_head)
        elif pair.module == "self_attn.k_proj":
            b = permute_rows(b, n_head_kv)
        writer.add_tensor(f"{base}.lora_a", a)
        writer.add_tensor(f"{base}.lora_b", np.ascontiguousarray(b))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return Path(path)


def read_lora_tensors(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The adapter's tensors by name, as numpy arrays (for tests and inspection)."""
    import gguf
    import numpy as np

    reader = gguf.GGUFReader(str(path))
    return {t.name: np.array(t.data) for t in reader.tensors}


__all__ = ["TARGET_MODULES", "TENSOR_NAMES", "LoraPair", "permute_rows", "read_lora_tensors",
           "write_lora_gguf"]
