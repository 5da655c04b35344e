"""Peak memory as users compare it: CUDA max allocated on a GPU, peak RSS on CPU."""

from __future__ import annotations

import resource
import sys


def peak_memory() -> str:
    torch = sys.modules.get("torch")  # only if the model layer is loaded: never import torch for this
    if torch is not None and torch.cuda.is_available() and torch.cuda.max_memory_allocated():
        return f"{torch.cuda.max_memory_allocated() / 2**30:.2f} GiB CUDA max allocated"
    return f"{peak_rss_gib():.2f} GiB peak RSS"


def peak_rss_gib() -> float:
    """This process's peak resident memory (Linux counts ru_maxrss in KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
