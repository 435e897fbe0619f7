"""Device and dtype choices: one place, and a switch that makes CPU runs comparable across CPUs."""

from __future__ import annotations

import pytest
import torch

from kd_core import devices
from kd_core.errors import KDError

CPU = torch.device("cpu")


def test_autocast_follows_the_cpu_unless_switched_off(monkeypatch):
    monkeypatch.delenv(devices.AUTOCAST_ENV, raising=False)
    expected = torch.bfloat16 if devices._has_avx512bf16() else None  # bf16 only where the CPU computes it natively
    assert devices.autocast_dtype(CPU, torch.float32) == expected
    assert devices.compute_name(CPU, torch.float32) == ("bf16 autocast" if expected else "fp32")
    monkeypatch.setenv(devices.AUTOCAST_ENV, "off")
    assert devices.autocast_dtype(CPU, torch.float32) is None and devices.compute_name(CPU, torch.float32) == "fp32"
    assert devices.compute_name(CPU, torch.bfloat16) == "bf16"  # weights already in bf16: no autocast either way


def test_a_bad_autocast_setting_is_named(monkeypatch):
    monkeypatch.setenv(devices.AUTOCAST_ENV, "maybe")
    with pytest.raises(KDError, match="KD_STUDIO_AUTOCAST='maybe': use 'auto'"):
        devices.autocast_dtype(CPU, torch.float32)
