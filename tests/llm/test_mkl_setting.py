"""MKL's AVX2 kernels are chosen on AMD CPUs only, and never over the user's own setting."""

from __future__ import annotations

import os

import pytest

from nl2sql_shell.llm import _prefer_mkl_avx2


@pytest.mark.parametrize(("vendor", "expected"), [("AuthenticAMD", "AVX2"), ("GenuineIntel", None)])
def test_the_setting_follows_the_cpu_vendor(tmp_path, monkeypatch, vendor: str, expected: str | None) -> None:
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text(f"processor\t: 0\nvendor_id\t: {vendor}\nflags\t\t: fpu avx2\n")
    monkeypatch.delenv("MKL_CBWR", raising=False)
    _prefer_mkl_avx2(cpuinfo)
    assert os.environ.get("MKL_CBWR") == expected


def test_a_value_the_user_set_is_kept(tmp_path, monkeypatch) -> None:
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("vendor_id\t: AuthenticAMD\n")
    monkeypatch.setenv("MKL_CBWR", "COMPATIBLE")
    _prefer_mkl_avx2(cpuinfo)
    _prefer_mkl_avx2(tmp_path / "missing")  # no /proc (macOS): nothing happens
    assert os.environ["MKL_CBWR"] == "COMPATIBLE"
