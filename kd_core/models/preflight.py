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
from pathlib import Path
from typing import Any

from kd_core.errors import KDError, ModelLoadError
from kd_core.models import devices
from kd_core.models.loading import (
    DEFAULT_CHAT_TEMPLATE,
    LoadedModel,
    ModelSpec,
    _check_gguf,
    _quiet,
    gguf_converted,
    gguf_file,
    load_model,
    load_tokenizer,
    resolve_source,
)

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


_GGUF_SCALARS = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?", 10: "<Q", 11: "<q", 12: "<d"}
_GGUF_MODEL_TYPES = {"gemma3": "gemma3_text"}  # GGUF architecture -> transformers model_type, where they differ


def gguf_header(path: str | Path) -> tuple[dict[str, Any], list[tuple[str, tuple[int, ...]]]]:
    """A GGUF file's metadata (arrays left out, but skipped over) and its tensor table
    (name, shape), read from the header alone: no tensor is read, nothing dequantized."""
    import mmap
    import struct

    with open(path, "rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as m:
        pos = 0

        def take(fmt: str) -> Any:
            nonlocal pos
            (v,) = struct.unpack_from(fmt, m, pos)
            pos += struct.calcsize(fmt)
            return v

        def text() -> str:
            nonlocal pos
            n = take("<Q")
            pos += n
            return bytes(m[pos - n : pos]).decode("utf-8", "replace")

        def skip(kind: int) -> Any:
            nonlocal pos
            if kind == 8:
                return text()
            if kind == 9:
                item, count = take("<I"), take("<Q")
                if item in _GGUF_SCALARS:
                    pos += struct.calcsize(_GGUF_SCALARS[item]) * count
                else:
                    for _ in range(count):
                        skip(item)
                return None
            return take(_GGUF_SCALARS[kind])

        if take("<4s") != b"GGUF":
            raise ValueError("not a GGUF file")
        version = take("<I")
        if version < 2:
            raise ValueError(f"GGUF version {version} is too old")
        n_tensors, n_kv = take("<Q"), take("<Q")
        meta: dict[str, Any] = {}
        for _ in range(n_kv):
            key = text()
            meta[key] = skip(take("<I"))
        tensors = []
        for _ in range(n_tensors):
            name = text()
            dims = tuple(take("<Q") for _ in range(take("<I")))
            take("<I"), take("<Q")  # its type and offset
            tensors.append((name, dims))
    return meta, tensors


def _gguf_parameters(path: Path) -> tuple[int, int, str, int | None]:
    """(all parameters, those at full width in 4-bit, architecture, context) of a GGUF file,
    from its header (`gguf_header`)."""
    import math

    from transformers.models.auto.modeling_auto import MODEL_FOR_CAUSAL_LM_MAPPING_NAMES

    meta, tensors = gguf_header(path)
    arch = str(meta.get("general.architecture") or "unknown")
    total = full = 0
    for name, shape in tensors:
        n = math.prod(shape)
        total += n
        if len(shape) < 2 or name.startswith(("token_embd", "output.")):  # norms, embeddings, the output layer
            full += n
    context = meta.get(f"{arch}.context_length")
    cls = MODEL_FOR_CAUSAL_LM_MAPPING_NAMES.get(_GGUF_MODEL_TYPES.get(arch, arch))
    return total, full, cls or f"{arch} (GGUF)", int(context) if context else None


def _gguf_tokenizer(path: Path) -> Any:
    """The tokenizer of a GGUF model: its converted copy's when loading made one, else
    read from the GGUF's metadata (slower for a large vocabulary, but no weight is read)."""
    from transformers import AutoTokenizer

    converted = gguf_converted(path)
    with _quiet():
        tokenizer = (AutoTokenizer.from_pretrained(converted) if converted is not None else
                     AutoTokenizer.from_pretrained(path.parent, gguf_file=path.name))
    if tokenizer.chat_template is None:
        tokenizer.chat_template = DEFAULT_CHAT_TEMPLATE
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def plan_model(role: str, spec: ModelSpec) -> tuple[ModelPlan, Any]:
    """The role's plan, and its tokenizer (for the checks between roles). A GGUF model is
    planned from its header, never dequantized (loading converts it, once, later)."""
    device = devices.resolve_device(spec.device)
    dtype = devices.resolve_dtype(spec.dtype, device)
    gguf = gguf_file(spec.name)
    source = str(gguf) if gguf is not None else resolve_source(spec.name)
    try:
        if gguf is not None:
            _check_gguf(gguf)
            total, full_width, arch, context = _gguf_parameters(gguf)
        else:
            total, full_width, arch = _parameters(source, spec.trust_remote_code)
    except ModelLoadError:
        raise
    except Exception as e:  # transformers and the gguf reader raise many kinds for a bad file
        raise KDError(f"{role} model {spec.name}: cannot read its config ({str(e).splitlines()[0]})") from None
    width = torch_size(dtype)
    weights = (full_width * width + (total - full_width) * 0.5) if spec.load_in_4bit else total * width
    if gguf is not None:
        try:
            tokenizer = _gguf_tokenizer(gguf)
        except Exception as e:
            raise KDError(f"{role} model {spec.name}: cannot read its tokenizer ({str(e).splitlines()[0]})") from None
    else:
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


def load_checked(spec: ModelSpec, role: str = "model", available: int | None = None) -> LoadedModel:
    """`load_model(spec)`, after the pre-flight estimate (`plan_model`: config and header only)
    says it fits in `available` bytes (default: the memory free on its device now); else a
    KDError saying what it needs and what is free, and nothing is loaded. What a server
    loads for a browser goes through this (chat.ModelCache(check_memory=True))."""
    plan, _ = plan_model(role, spec)
    free = available_bytes(plan.device) if available is None else int(available)
    if plan.needed_bytes > free:
        raise KDError(f"{spec.label()}: needs about {human(plan.needed_bytes)} on {plan.device} ({plan.parameters / 1e6:,.1f}M "
                      f"parameters at {plan.dtype}), only {human(free)} is free; not loading it (unload a model, or "
                      "choose 4-bit or a smaller dtype)")
    return load_model(spec)


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
