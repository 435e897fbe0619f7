"""Before minutes of loading: what each model is, the memory it needs against the
memory there is, and whether the models fit together (tokenizers, chat templates).

Reads configs and tokenizers only: parameters are counted on the meta device (no
weights in memory), so a 7B check costs seconds.  Memory needed is an estimate, said as
such: weights at their dtype (4-bit: half a byte a parameter in the linear layers, the
rest at the compute dtype), plus 20% for activations and the KV cache of inference.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field
from typing import Any

from kd_core.errors import KDError
from kd_core.models import devices
from kd_core.models.loading import DEFAULT_CHAT_TEMPLATE, ModelSpec, load_tokenizer, resolve_source

MARGIN = 1.2  # activations and KV cache over the weights, for inference at demo sizes


@dataclass
class ModelPlan:
    role: str
    label: str
    source: str  # what transformers loads: a folder or a hub id
    architecture: str
    parameters: int
    dtype: str
    device: str
    weights_bytes: int
    needed_bytes: int
    vocab: int
    context: int | None
    chat_template: bool  # False: KD Studio's default Question/Answer template is used
    notes: list[str] = field(default_factory=list)


def _parameters(source: str, trust_remote_code: bool) -> tuple[int, int, str]:
    """(all parameters, those in embeddings/norms that 4-bit keeps at full width, architecture)."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    config = AutoConfig.from_pretrained(source, trust_remote_code=trust_remote_code)
    with torch.device("meta"):
        model = AutoModelForCausalLM.from_config(config, trust_remote_code=trust_remote_code)
    total = sum(p.numel() for p in model.parameters())
    linear = sum(m.weight.numel() for name, m in model.named_modules()
                 if isinstance(m, torch.nn.Linear) and not name.endswith("lm_head"))
    return total, total - linear, (config.architectures or [type(model).__name__])[0]


def plan_model(role: str, spec: ModelSpec) -> tuple[ModelPlan, Any]:
    """The role's plan, and its tokenizer (for the checks between roles)."""
    device = devices.resolve_device(spec.device)
    dtype = devices.resolve_dtype(spec.dtype, device)
    source = resolve_source(spec.name)
    try:
        total, full_width, arch = _parameters(source, spec.trust_remote_code)
    except (OSError, ValueError) as e:
        raise KDError(f"{role} model {spec.name}: cannot read its config ({str(e).splitlines()[0]})") from None
    width = torch_size(dtype)
    weights = (full_width * width + (total - full_width) * 0.5) if spec.load_in_4bit else total * width
    tokenizer, context = load_tokenizer(spec)
    notes = []
    own_template = tokenizer.chat_template != DEFAULT_CHAT_TEMPLATE
    if not own_template:
        notes.append("no chat template of its own: KD Studio's Question/Answer template is used")
    if spec.adapter:
        notes.append(f"adapter {spec.adapter} (small; checked against the base when loaded)")
    return ModelPlan(role=role, label=spec.label(), source=source, architecture=arch, parameters=total, dtype=str(dtype).replace("torch.", "")
                     + (" + 4-bit nf4" if spec.load_in_4bit else ""), device=str(device), weights_bytes=int(weights),
                     needed_bytes=int(weights * MARGIN), vocab=len(tokenizer), context=context,
                     chat_template=own_template, notes=notes), tokenizer


def torch_size(dtype: Any) -> int:
    import torch

    return torch.empty((), dtype=dtype).element_size()


def available_bytes(device: str) -> int:
    """Memory free for models on the device: the GPU's free memory, or the machine's available RAM."""
    if device.startswith("cuda"):
        import torch

        free, _ = torch.cuda.mem_get_info(torch.device(device))
        return int(free)
    try:
        with open("/proc/meminfo") as f:
            info = {line.split(":")[0]: int(line.split()[1]) for line in f if ":" in line}
        return info["MemAvailable"] * 1024
    except (OSError, KeyError, ValueError):
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_AVPHYS_PAGES")


def human(n: float) -> str:
    return f"{n / 2**30:.2f} GB" if n >= 2**28 else f"{n / 2**20:.1f} MB"


def preflight(specs: dict[str, ModelSpec]) -> dict[str, Any]:
    """Plans for every role, memory needed per device against what is free, and the
    checks between roles: base and fine-tuned must share a tokenizer (the gap compares
    the same tokens); a target with another tokenizer can learn by SFT, not by KD
    from the fine-tuned model's distribution."""
    planned = {role: plan_model(role, spec) for role, spec in specs.items()}
    plans = [plan for plan, _ in planned.values()]
    tokenizers = {role: tok for role, (_, tok) in planned.items()}
    by_role = {p.role: p for p in plans}
    needed: dict[str, int] = {}
    for p in plans:
        needed[p.device] = needed.get(p.device, 0) + p.needed_bytes
    memory = {}
    for d, n in needed.items():
        free = available_bytes(d)
        memory[d] = {"needed_bytes": n, "available_bytes": free, "fits": n <= free}
    checks: list[str] = []
    if "base" in tokenizers and "finetuned" in tokenizers:
        same = tokenizers["base"].get_vocab() == tokenizers["finetuned"].get_vocab()
        checks.append("base and fine-tuned share a tokenizer: the perplexity gap can compare them" if same else
                      "base and fine-tuned use different tokenizers: scoring and expansion will refuse them")
    if "target" in tokenizers and "finetuned" in tokenizers:
        same = tokenizers["target"].get_vocab() == tokenizers["finetuned"].get_vocab()
        checks.append("target and fine-tuned share a tokenizer: SFT, KD and mix all work" if same else
                      f"target's tokenizer differs from the fine-tuned model's ({by_role['target'].vocab:,} vs "
                      f"{by_role['finetuned'].vocab:,} tokens): train the target with loss sft (KD needs one vocabulary)")
    return {"models": [asdict(p) for p in plans], "memory": memory, "checks": checks,
            "fits": all(m["fits"] for m in memory.values()),
            "estimate": f"weights at their dtype (4-bit: 0.5 byte a linear-layer parameter) x {MARGIN} for activations"}


def report_markdown(report: dict[str, Any]) -> str:
    """The pre-flight report for people."""
    lines = ["| role | model | architecture | parameters | dtype | device | weights | needed | vocab | context |",
             "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for m in report["models"]:
        lines.append(f"| {m['role']} | `{m['label']}` | {m['architecture']} | {m['parameters'] / 1e6:,.1f}M | {m['dtype']} | "
                     f"{m['device']} | {human(m['weights_bytes'])} | {human(m['needed_bytes'])} | {m['vocab']:,} | {m['context'] or '?'} |")
    lines.append("")
    for device, m in report["memory"].items():
        verdict = "fits" if m["fits"] else "**does not fit**"
        lines.append(f"- {device}: {human(m['needed_bytes'])} needed, {human(m['available_bytes'])} available: {verdict}")
    lines += [f"- {c}" for c in report["checks"]]
    lines += [f"- {m['role']}: {n}" for m in report["models"] for n in m["notes"]]
    lines.append(f"\nEstimate: {report['estimate']}. Loaded from: " + "; ".join(f"{m['role']} `{m['source']}`" for m in report["models"]))
    return "\n".join(lines)
