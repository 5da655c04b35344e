"""Loading and running the model; torch and transformers are imported only below this package.

Importing the package also picks MKL's AVX2 kernels on AMD CPUs (see `_prefer_mkl_avx2`),
before torch's first matrix product reads the setting.
"""

from __future__ import annotations

import os
from pathlib import Path

from nl2sql_shell.own_environment import set_default


def _prefer_mkl_avx2(cpuinfo: Path = Path("/proc/cpuinfo")) -> None:
    """Set MKL_CBWR=AVX2 on AMD CPUs unless the user chose a value.

    MKL, the BLAS of torch's CPU wheels, leaves AMD processors on a generic code path, where a
    product with 4 rows (one decode step of 4 batched candidates) costs 2.6x a single row's; on
    its AVX2 path it costs 1.4x, and prompt prefill is unchanged (docs/benchmarks.md).
    """
    if "MKL_CBWR" in os.environ:
        return
    try:
        with cpuinfo.open() as lines:
            amd = any(line.startswith("vendor_id") and "AuthenticAMD" in line for line in lines)
    except OSError:
        return
    if amd:
        set_default("MKL_CBWR", "AVX2")


_prefer_mkl_avx2()
