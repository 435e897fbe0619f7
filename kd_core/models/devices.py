"""Every device and dtype decision in one place.

CPU: weights and compute stay float32.  ``KD_STUDIO_AUTOCAST=bf16`` runs compute under
bf16 autocast where the CPU has native bf16 (AVX-512 bf16 / AMX); it is not the default
because on the 2-core AMX machine it was measured slower, not faster: the same recipe
(assets/demo/runs/tuneshift-quiz) took 995 s under bf16 autocast and 584 s in fp32
(Gemma 3 270M training 489 s vs 331 s, 396-question evaluation 353 s vs 149 s), and bf16
results also shift with the batch's shape.  CUDA: weights in bf16 (fp16 on GPUs
without bf16).  Everything else in kd_core asks this module.
"""

from __future__ import annotations

import contextlib
import os
from typing import Iterator

import torch

DTYPES = {
    "float32": torch.float32,
    "fp32": torch.float32,
    "bfloat16": torch.bfloat16,
    "bf16": torch.bfloat16,
    "float16": torch.float16,
    "fp16": torch.float16,
}


def resolve_device(device: str = "auto") -> torch.device:
    """'auto' -> CUDA when present, else CPU; otherwise the named device."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    dev = torch.device(device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        from kd_core.errors import KDError

        raise KDError(f"device '{device}' asked for, but no CUDA GPU is available here")
    return dev


def resolve_dtype(dtype: str = "auto", device: torch.device | None = None) -> torch.dtype:
    """The dtype weights are loaded in. 'auto': fp32 on CPU, bf16 (or fp16) on CUDA."""
    device = device or resolve_device()
    if dtype == "auto":
        if device.type == "cuda":
            return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        return torch.float32
    try:
        return DTYPES[dtype]
    except KeyError:
        from kd_core.errors import KDError

        raise KDError(f"unknown dtype '{dtype}' (choose one of: auto, {', '.join(DTYPES)})") from None


def _has_avx512bf16() -> bool:
    # Without native bf16 (AVX-512 bf16 / AMX) autocast to bf16 is slower than fp32.
    try:
        with open("/proc/cpuinfo") as f:
            return "avx512_bf16" in f.read()
    except OSError:
        return False


AUTOCAST_ENV = "KD_STUDIO_AUTOCAST"


def autocast_dtype(device: torch.device, weight_dtype: torch.dtype) -> torch.dtype | None:
    """Compute dtype for autocast, or None to run in the weights' own dtype."""
    setting = os.environ.get(AUTOCAST_ENV, "off").strip().lower() or "off"
    if setting not in ("off", "bf16"):
        from kd_core.errors import KDError

        raise KDError(f"{AUTOCAST_ENV}={setting!r}: use 'off' (fp32 compute, the default) or 'bf16' (bf16 autocast where the CPU has it)")
    if weight_dtype != torch.float32 or setting == "off":
        return None
    if device.type == "cpu":
        return torch.bfloat16 if _has_avx512bf16() else None
    return None


def compute_name(device: torch.device, weight_dtype: torch.dtype) -> str:
    """What a run computes in, for its records: 'fp32', 'bf16 autocast', 'bf16'..."""
    auto = autocast_dtype(device, weight_dtype)
    name = {torch.float32: "fp32", torch.bfloat16: "bf16", torch.float16: "fp16"}
    return f"{name[auto]} autocast" if auto is not None else name.get(weight_dtype, str(weight_dtype))


@contextlib.contextmanager
def compute_context(device: torch.device, weight_dtype: torch.dtype, enabled: bool = True) -> Iterator[None]:
    """Autocast context for forward passes (training or inference)."""
    dt = autocast_dtype(device, weight_dtype) if enabled else None
    if dt is None:
        yield
        return
    with torch.autocast(device_type=device.type, dtype=dt):
        yield
