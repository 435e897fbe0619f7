"""Every device and dtype decision in one place.

CPU: weights stay float32 and compute runs under bf16 autocast where the CPU supports
it (measured faster than fp32 on AVX-512 bf16 machines, see README).  CUDA: weights in
bf16 (fp16 on GPUs without bf16).  Everything else in kd_core asks this module.

``KD_STUDIO_AUTOCAST=off`` keeps CPU compute in fp32 everywhere: the same run then gives
the same numbers on a CPU with bf16 and one without (bf16 results also depend on the
batch's shape, so a cached and a recomputed teacher differ slightly under it).
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
    setting = os.environ.get(AUTOCAST_ENV, "auto").strip().lower() or "auto"
    if setting not in ("auto", "off"):
        from kd_core.errors import KDError

        raise KDError(f"{AUTOCAST_ENV}={setting!r}: use 'auto' (bf16 where the CPU has it) or 'off' (fp32 compute)")
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
