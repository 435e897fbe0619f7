"""Export a trained LoRA as a standalone model: the adapter merged into a 16-bit or
32-bit copy of its base, saved as safetensors with the tokenizer and chat template.

The merge always loads the base anew in the asked dtype, never in 4-bit: merging into
nf4 weights would round the LoRA's small update away (and PEFT would have to dequantize
and requantize).  A QLoRA adapter trained on a 4-bit base therefore merges into the
full-precision base it was quantized from, which is the model people deploy.

After saving, the merged model is loaded back from disk and its mean log-likelihood of
a few (prompt, response) pairs is compared with the adapter model's: a merge that went
wrong (wrong base, lost layers, a tokenizer without the chat template) shows up as a
difference, and the export fails instead of leaving a silently broken model behind.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Sequence

import torch

from kd_core.data.cards import portable_name
from kd_core.data.files import replace_dir, temp_dir_beside, write_atomic, write_json
from kd_core.errors import KDError
from kd_core.models.loading import ModelSpec, load_model
from kd_core.training.cards import merged_card
from kd_core.training.data import Example, PairDataset

DTYPES = ("bfloat16", "float16", "float32")
# Largest allowed |mean log-likelihood difference| (nats per response token), per dtype:
# fp32 differs only by summation order; 16-bit weights round W + BA to 8 (bf16) or 11
# (fp16) mantissa bits, which moves log-likelihoods by a few hundredths on small models.
DEFAULT_TOLERANCE = {"float32": 1e-3, "float16": 2e-2, "bfloat16": 5e-2}
# Used when the caller has no pairs of its own: the check needs text, not domain text.
DEFAULT_PAIRS = [
    Example("What is the capital of France?", "The capital of France is Paris."),
    Example("Name three primary colours.", "Red, yellow and blue."),
    Example("How many days are in a week?", "There are seven days in a week."),
]


@dataclass
class MergeReport:
    out_dir: str
    dtype: str
    pairs: int
    max_abs_diff: float  # nats per response token, merged (reloaded from disk) vs adapter model
    tolerance: float
    adapter_loglik: list[float]
    merged_loglik: list[float]
    size_mb: float

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def mean_logliks(model: Any, tokenizer: Any, pairs: Sequence[Example], system: str | None = None,
                 max_length: int = 512) -> list[float]:
    """Mean log-likelihood of each response (its tokens and end of turn), teacher-forced
    on the chat-formatted prompt; one pair at a time so padding cannot play a part."""
    data = PairDataset(tokenizer, pairs, max_length, system)
    device = next(model.parameters()).device
    out = []
    with torch.no_grad():
        for item in data.items:
            ids = torch.tensor([item["input_ids"]], device=device)
            labels = torch.tensor(item["labels"][1:], device=device)
            logits = model(input_ids=ids, attention_mask=torch.ones_like(ids)).logits[0, :-1].float()
            keep = labels != -100
            lp = torch.log_softmax(logits[keep], dim=-1).gather(-1, labels[keep, None]).squeeze(-1)
            out.append(float(lp.mean()))
    return out


def merge_adapter(
    base: ModelSpec | str,
    adapter_dir: str | Path,
    out_dir: str | Path,
    dtype: str = "bfloat16",
    pairs: Sequence[Example] | None = None,
    system: str | None = None,
    tolerance: float | None = None,
    overwrite: bool = False,
) -> MergeReport:
    """Merge the LoRA in `adapter_dir` into a `dtype` copy of `base`; save it to `out_dir`.

    Saves safetensors weights, the config, and the tokenizer with the chat template the
    adapter was trained with (the adapter folder's own tokenizer when it has one, as
    `train_lora` writes it), a model card (``README.md``: the base as the Hub names it,
    the check, the adapter's own card) and ``kd_studio_export.json`` (provenance and the
    check); neither names a path of this machine.
    Raises KDError when the merged model's log-likelihoods differ from the adapter
    model's by more than `tolerance` (default per dtype, `DEFAULT_TOLERANCE`); nothing is
    left in `out_dir` then.
    """
    if dtype not in DTYPES:
        raise KDError(f"export dtype '{dtype}' is not one of {', '.join(DTYPES)} (4-bit is never a merge target)")
    tolerance = DEFAULT_TOLERANCE[dtype] if tolerance is None else float(tolerance)
    spec = ModelSpec(base) if isinstance(base, str) else base
    spec = replace(spec, adapter=str(Path(adapter_dir).expanduser().resolve()), dtype=dtype, load_in_4bit=False)
    out = Path(out_dir).expanduser().resolve()
    if out.exists() and any(out.iterdir()) and not overwrite:
        raise KDError(f"{out} already exists and is not empty (choose another folder, or allow overwriting)")
    pairs = list(pairs or DEFAULT_PAIRS)

    lm = load_model(spec)
    tokenizer = _adapter_tokenizer(Path(spec.adapter)) or lm.tokenizer
    before = mean_logliks(lm.model, tokenizer, pairs, system)  # must come first: merging rewrites the weights
    merged = lm.model.merge_and_unload()

    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_dir_beside(out)
    try:
        merged.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        del merged, lm
        # Check what is on disk, loaded the way any user will load it.
        reloaded = load_model(ModelSpec(str(tmp), dtype=dtype, device=spec.device))
        after = mean_logliks(reloaded.model, reloaded.tokenizer, pairs, system)
        diff = max(abs(a - b) for a, b in zip(before, after))
        size = sum(f.stat().st_size for f in tmp.glob("*.safetensors"))
        report = MergeReport(str(out), dtype, len(pairs), diff, tolerance, [round(x, 6) for x in before],
                             [round(x, 6) for x in after], round(size / 2**20, 2))
        if not diff <= tolerance:  # NaN fails too
            raise KDError(
                f"merged model does not match the adapter model: mean log-likelihood differs by up to {diff:.3g} nats "
                f"per token (tolerance {tolerance:g}, {dtype}); nothing was written to {out}"
            )
        base_name = portable_name(spec.name)
        check = {k: v for k, v in report.to_dict().items() if k != "out_dir"}  # the folder is wherever it is copied to
        write_json(tmp / "kd_studio_export.json", {"base": base_name, "adapter": Path(spec.adapter).name, "check": check})
        write_atomic(tmp / "README.md", merged_card(base_name, check, Path(spec.adapter) / "README.md"))
        # Synced, then swapped in: an earlier export is renamed aside, the new one renamed in,
        # the old one removed (removing it first would leave a half-deleted export to a kill).
        replace_dir(tmp, out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return report


def _adapter_tokenizer(adapter_dir: Path) -> Any:
    if not (adapter_dir / "tokenizer_config.json").exists():
        return None
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(adapter_dir))
    return tok if tok.chat_template else None
