"""Device and dtype choices: one place, and a switch that makes CPU runs comparable across CPUs."""

from __future__ import annotations

import pytest
import torch

from kd_core.errors import KDError
from kd_core.models import devices

CPU = torch.device("cpu")


def test_cpu_compute_is_fp32_unless_bf16_autocast_is_asked_for_and_the_cpu_has_it(monkeypatch):
    monkeypatch.delenv(devices.AUTOCAST_ENV, raising=False)
    assert devices.autocast_dtype(CPU, torch.float32) is None and devices.compute_name(CPU, torch.float32) == "fp32"
    monkeypatch.setenv(devices.AUTOCAST_ENV, "bf16")
    expected = torch.bfloat16 if devices._has_avx512bf16() else None  # bf16 only where the CPU computes it natively
    assert devices.autocast_dtype(CPU, torch.float32) == expected
    assert devices.compute_name(CPU, torch.float32) == ("bf16 autocast" if expected else "fp32")
    assert devices.compute_name(CPU, torch.bfloat16) == "bf16"  # weights already in bf16: no autocast either way


def test_a_bad_autocast_setting_is_named(monkeypatch):
    monkeypatch.setenv(devices.AUTOCAST_ENV, "maybe")
    with pytest.raises(KDError, match="KD_STUDIO_AUTOCAST='maybe': use 'off'"):
        devices.autocast_dtype(CPU, torch.float32)
