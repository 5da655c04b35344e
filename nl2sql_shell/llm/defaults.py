"""The model a user gets when they name none, chosen by what the machine can run well.

On a CUDA GPU: Qwen2.5-Coder-7B-Instruct in 4-bit nf4 (the strongest open coder that fits a
16 GB card). On CPU: Qwen2.5-Coder-0.5B-Instruct, which answers in seconds; the offline GGUF
copy is used when it is on disk (../shared/models/fetch-qwen2.5-coder-0.5b.sh puts it there).
"""

from __future__ import annotations

import os
from pathlib import Path

from nl2sql_shell.llm.load import ModelSpec

GPU_MODEL = "Qwen/Qwen2.5-Coder-7B-Instruct"
CPU_MODEL = "Qwen/Qwen2.5-Coder-0.5B-Instruct"
CPU_GGUF = "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf"
NVIDIA_DRIVER = "/proc/driver/nvidia/version"  # present while the NVIDIA kernel driver is loaded


def offline_gguf() -> Path:
    folder = os.environ.get("NL2SQL_MODEL_DIR") or os.path.expanduser("~/.cache/nl2sql-shell/models")
    return Path(folder) / CPU_GGUF


def cuda_available() -> bool:
    """Whether a CUDA GPU can be used. torch is asked only where an NVIDIA driver is loaded:
    importing it costs about 300 MB and a second, which the llama.cpp path on a laptop never
    needs."""
    if not Path(NVIDIA_DRIVER).exists():
        return False
    import torch

    return torch.cuda.is_available()


def default_model_spec() -> ModelSpec:
    if cuda_available():
        return ModelSpec(model=GPU_MODEL, quantize="4bit")
    gguf = offline_gguf()
    return ModelSpec(model=str(gguf) if gguf.exists() else CPU_MODEL)
