"""Loading models for the three roles: base, fine-tuned, target.

One entry point: `load_model(ModelSpec(...))`.  A model is named by

- a Hugging Face id (``org/name``; read from the local HF cache, the hub is offline
  unless the user sets ``HF_HUB_OFFLINE=0``),
- a local directory holding a transformers checkpoint,
- a ``.gguf`` file (dequantized once into a cached safetensors directory), or
- a reference a plugin resolves (kd_core.data.references), such as the embedded
  demo's ``demo:smollm2-135m-instruct`` or ``demo:gemma3-270m`` (kd_core.demo.models).

A fine-tuned model is a merged checkpoint or a base plus a PEFT adapter directory
(``ModelSpec.adapter``).  Every failure the user can cause raises `ModelLoadError`
with one readable line.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import io
import logging
import os
import re
import shutil
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch

from kd_core.data.files import replace_dir, temp_dir_beside, write_json
from kd_core.data.references import is_reference, resolve_model
from kd_core.errors import KDError, ModelLoadError
from kd_core.models import devices

log = logging.getLogger(__name__)

# Used when a model ships without a chat template (base models such as Gemma 3 270M
# pretrained).  Plain-text markers a base model already continues sensibly (measured on
# Gemma 3 270M: "Paris" for the capital of France; without the BOS token it babbles);
# the answer ends with EOS so a model trained on it learns to stop.
DEFAULT_CHAT_TEMPLATE = (
    "{% if bos_token %}{{ bos_token }}{% endif %}"
    "{% for message in messages %}"
    "{% if message['role'] == 'system' %}{{ message['content'] }}\n\n"
    "{% elif message['role'] == 'user' %}Question: {{ message['content'] }}\n"
    "{% else %}Answer: {{ message['content'] }}{{ eos_token }}\n"
    "{% endif %}{% endfor %}"
    "{% if add_generation_prompt %}Answer:{% endif %}"
)
# A base model keeps writing the next "Question:" after its answer; generation cuts there.
DEFAULT_TEMPLATE_STOP = "\nQuestion:"

ROLES = ("base", "finetuned", "target")


REPO_ROOT = Path(__file__).resolve().parents[2]


@dataclass
class ModelSpec:
    """What to load. Plain data: serialisable into configs and recipes."""

    name: str
    adapter: str | None = None
    dtype: str = "auto"
    device: str = "auto"
    load_in_4bit: bool = False
    trust_remote_code: bool = False  # remote code runs only when the user turns it on
    allow_pickle: bool = False  # only safetensors weights unless explicitly allowed

    def label(self) -> str:
        return self.name + (f" + {self.adapter}" if self.adapter else "")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_file_dict(cls, fields: dict[str, Any], where: str = "model") -> "ModelSpec":
        """A spec read from a file (a pool's meta, a run.yaml, a recipe, a job config, an
        upload): `trust_remote_code` and `allow_pickle` never come from it. They are what
        this process's command line granted (`grant`), and a file that asked for more is
        noted in the log."""
        fields = dict(fields)
        asked = [flag for flag in COMMAND_LINE_ONLY if fields.pop(flag, False)]
        refused = [flag for flag in asked if not _GRANTED[flag]]
        if refused:
            log.warning("%s: %s ignored: only the command line of the process that loads a model turns %s on "
                        "(--%s)", where, " and ".join(f"{f}: true" for f in refused), "them" if len(refused) > 1 else "it",
                        ", --".join(f.replace("_", "-") for f in refused))
        return cls(**fields, **_GRANTED)


# Only the command line of the process that loads a model turns these on (`grant`), never a file.
COMMAND_LINE_ONLY = ("trust_remote_code", "allow_pickle")
_GRANTED = {flag: False for flag in COMMAND_LINE_ONLY}


def grant(trust_remote_code: bool = False, allow_pickle: bool = False) -> None:
    """What this process's command line allows (`--trust-remote-code`, `--allow-pickle`):
    every spec read from a file gets these values (ModelSpec.from_file_dict), and the
    processes this one starts get the same flags (`granted_flags`)."""
    _GRANTED.update(trust_remote_code=bool(trust_remote_code), allow_pickle=bool(allow_pickle))


def granted_flags() -> list[str]:
    """The command-line flags that pass this process's grant on to a process it starts."""
    return [f"--{flag.replace('_', '-')}" for flag in COMMAND_LINE_ONLY if _GRANTED[flag]]


@dataclass
class LoadedModel:
    model: Any  # PreTrainedModel or PeftModel
    tokenizer: Any
    spec: ModelSpec
    device: torch.device
    dtype: torch.dtype
    source: str  # the directory or hub id actually loaded
    notes: list[str] = field(default_factory=list)
    default_template: bool = False  # True when DEFAULT_CHAT_TEMPLATE was applied

    @property
    def has_adapter(self) -> bool:
        return self.spec.adapter is not None

    def parameter_count(self) -> int:
        return sum(p.numel() for p in self.model.parameters())

    def info(self) -> dict[str, Any]:
        base = self.model.get_base_model() if hasattr(self.model, "get_base_model") else self.model
        return {
            "name": self.spec.label(),
            "class": type(base).__name__,
            "parameters": self.parameter_count(),
            "dtype": str(self.dtype).replace("torch.", "") + (" (4-bit nf4)" if self.spec.load_in_4bit else ""),
            "device": str(self.device),
            "memory_mb": round(base.get_memory_footprint() / 2**20, 1),
            "vocab_size": len(self.tokenizer),
            "chat_template": "KD Studio default (model has none)" if self.default_template else "model's own",
            "source": self.source,
        }


# ---------------------------------------------------------------------------
# Where things live


def cache_dir() -> Path:
    """User cache for converted models; KD_STUDIO_CACHE overrides."""
    root = os.environ.get("KD_STUDIO_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME", os.path.expanduser("~/.cache")), "kd-studio"
    )
    return Path(root)


def _is_pathlike(name: str) -> bool:
    return (
        name.startswith(("/", "./", "../", "~"))
        or name.endswith(".gguf")
        or os.path.exists(os.path.expanduser(name))
        or not re.fullmatch(r"[\w.-]+(/[\w.-]+)?", name)
    )


# ---------------------------------------------------------------------------
# GGUF -> cached safetensors


def _check_gguf(path: Path) -> None:
    if not path.is_file():
        raise ModelLoadError(f"GGUF file not found: {path}")
    with path.open("rb") as f:
        magic = f.read(4)
    if magic != b"GGUF":
        raise ModelLoadError(f"{path} is not a GGUF model file (its first bytes are {magic!r}, expected b'GGUF')")


def _gguf_cache_key(path: Path) -> str:
    h = hashlib.sha256()
    st = path.stat()
    h.update(f"{path.name}:{st.st_size}".encode())
    with path.open("rb") as f:
        h.update(f.read(1 << 20))
    return f"{path.stem}-{h.hexdigest()[:12]}"


def convert_gguf(path: Path) -> Path:
    """Dequantize a GGUF once into a safetensors directory in the cache; return it.

    A GGUF-loaded model refuses save_pretrained, so its weights are copied into a
    fresh model built from the same config; that directory then loads in about a
    second and can be loaded in 4-bit.
    """
    path = Path(path).expanduser().resolve()
    _check_gguf(path)
    out = cache_dir() / "models" / _gguf_cache_key(path)
    if (out / "config.json").exists():
        return out
    out.parent.mkdir(parents=True, exist_ok=True)
    # One conversion of a file at a time across processes (a server and a job starting on
    # the same demo model): the second waits for the first, then finds its result.
    with open(out.parent / f".{out.name}.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if (out / "config.json").exists():
            return out
        return _convert_gguf(path, out)


def _convert_gguf(path: Path, out: Path) -> Path:
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    try:
        with _quiet():
            tok = AutoTokenizer.from_pretrained(path.parent, gguf_file=path.name)
            src = AutoModelForCausalLM.from_pretrained(path.parent, gguf_file=path.name, dtype=torch.float32)
    except Exception as e:  # the gguf reader raises many kinds of errors
        raise ModelLoadError(f"could not read GGUF model {path}: {_first_line(e)}") from None
    cfg_dict = src.config.to_dict()
    cfg_dict.pop("quantization_config", None)
    cfg = AutoConfig.for_model(**cfg_dict)
    fresh = AutoModelForCausalLM.from_config(cfg, dtype=torch.float32)
    missing, unexpected = fresh.load_state_dict(src.state_dict(), strict=False)
    # Tied output embeddings show up as "missing" in some architectures; anything else is a bug.
    missing = [k for k in missing if not (cfg.tie_word_embeddings and k.endswith("lm_head.weight"))]
    if missing or unexpected:
        raise ModelLoadError(f"converting {path}: weights did not map cleanly (missing {missing[:3]}, unexpected {unexpected[:3]})")
    tmp = temp_dir_beside(out)
    try:
        with _quiet():
            fresh.save_pretrained(tmp)
            tok.save_pretrained(tmp)
        write_json(tmp / "kd_studio_source.json", {"gguf": str(path)})
        replace_dir(tmp, out)  # swapped in whole (a half-made entry of a killed process is replaced)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return out


# ---------------------------------------------------------------------------
# Loading


def gguf_file(name: str) -> Path | None:
    """The .gguf file a model name stands for (a .gguf path, a folder holding one and no
    config.json, a demo:NAME shipped as GGUF), or None; nothing is converted or loaded."""
    if is_reference(name):
        path = resolve_model(name)
        return path if path.is_file() else None
    if not _is_pathlike(name):
        return None
    p = Path(name).expanduser()
    if p.is_file():
        with p.open("rb") as f:
            return p if p.suffix == ".gguf" or f.read(4) == b"GGUF" else None
    if p.is_dir() and not (p / "config.json").exists():
        ggufs = sorted(p.glob("*.gguf"))
        return ggufs[0] if len(ggufs) == 1 else None
    return None


def gguf_converted(path: Path) -> Path | None:
    """The folder `convert_gguf` made of this GGUF file, if it made one already."""
    out = cache_dir() / "models" / _gguf_cache_key(Path(path).expanduser().resolve())
    return out if (out / "config.json").exists() else None


def resolve_source(name: str) -> str:
    """Turn a model name into what transformers loads: a directory or a hub id."""
    gguf = gguf_file(name)  # a .gguf file, a folder holding one, a demo:NAME shipped as one
    if gguf is not None:
        return str(convert_gguf(gguf))
    if is_reference(name):  # demo:NAME and other plugins' models
        return str(resolve_model(name))
    if _is_pathlike(name):
        p = Path(name).expanduser()
        if not p.exists():
            raise ModelLoadError(f"model path does not exist: {name}")
        if p.is_file():
            raise ModelLoadError(f"{name} is a file, not a model directory or a .gguf model file")
        if not (p / "config.json").exists():
            hint = " (it holds a PEFT adapter: give it as the adapter, with its base model)" if (p / "adapter_config.json").exists() else ""
            raise ModelLoadError(f"{name} is not a model directory: no config.json in it{hint}")
        return str(p.resolve())
    return name  # a hub id


def _check_weights_format(source: str, allow_pickle: bool) -> None:
    p = Path(source)
    if not p.is_dir() or allow_pickle:
        return
    pickles = [f for pattern in ("*.bin", "*.pt", "*.pth") for f in p.glob(pattern)]
    if pickles and not any(p.glob("*.safetensors")):
        raise ModelLoadError(
            f"{source} holds only pickle weights (.bin/.pt), which can run code when loaded; "
            "convert them to safetensors or set allow_pickle for this model"
        )


def load_model(spec: ModelSpec) -> LoadedModel:
    """Load a model and its tokenizer as the spec says (the one entry point)."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    device = devices.resolve_device(spec.device)
    dtype = devices.resolve_dtype(spec.dtype, device)
    source = resolve_source(spec.name)
    _check_weights_format(source, spec.allow_pickle)
    notes: list[str] = []

    kwargs: dict[str, Any] = {"dtype": dtype, "trust_remote_code": spec.trust_remote_code}
    if not spec.allow_pickle:
        kwargs["use_safetensors"] = True
    if spec.load_in_4bit:
        kwargs["quantization_config"] = _bnb_config(dtype)
        kwargs["device_map"] = {"": str(device)} if device.type == "cuda" else {"": "cpu"}
    try:
        with _quiet():
            tokenizer = AutoTokenizer.from_pretrained(source, trust_remote_code=spec.trust_remote_code)
            model = AutoModelForCausalLM.from_pretrained(source, **kwargs)
    except ModelLoadError:
        raise
    except (OSError, ValueError) as e:
        raise ModelLoadError(_explain_load_error(spec.name, source, e)) from None
    if not spec.load_in_4bit:
        model.to(device)
    else:
        guard_4bit_cpu(model)

    default_template = tokenizer.chat_template is None
    if default_template:
        tokenizer.chat_template = DEFAULT_CHAT_TEMPLATE
        notes.append("no chat template in the model: KD Studio's default 'Question:/Answer:' template is used")
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token

    if spec.adapter:
        model = attach_adapter(model, spec.adapter)
        if spec.load_in_4bit:
            guard_4bit_cpu(model)
    model.eval()
    return LoadedModel(model, tokenizer, spec, device, dtype, source, notes, default_template)


def load_tokenizer(spec: ModelSpec) -> tuple[Any, int | None]:
    """The model's tokenizer and its context length, without loading the weights
    (chunking documents needs no more); chat template and pad token as `load_model` sets them."""
    from transformers import AutoConfig, AutoTokenizer

    source = resolve_source(spec.name)
    try:
        with _quiet():
            tokenizer = AutoTokenizer.from_pretrained(source, trust_remote_code=spec.trust_remote_code)
            config = AutoConfig.from_pretrained(source, trust_remote_code=spec.trust_remote_code)
    except (OSError, ValueError) as e:
        raise ModelLoadError(_explain_load_error(spec.name, source, e)) from None
    if tokenizer.chat_template is None:
        tokenizer.chat_template = DEFAULT_CHAT_TEMPLATE
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    cfg = config.get_text_config() if hasattr(config, "get_text_config") else config
    return tokenizer, getattr(cfg, "max_position_embeddings", None) or getattr(cfg, "n_positions", None)


def attach_adapter(model: Any, adapter_dir: str, trainable: bool = False) -> Any:
    """Wrap `model` with the PEFT adapter in `adapter_dir`, after checking it fits."""
    from peft import PeftModel

    path = Path(adapter_dir).expanduser()
    if not path.is_dir():
        raise ModelLoadError(f"adapter directory does not exist: {adapter_dir}")
    if not (path / "adapter_config.json").exists():
        hint = " (it looks like a full model: give it as the model, without an adapter)" if (path / "config.json").exists() else ""
        raise ModelLoadError(f"{adapter_dir} is not a PEFT adapter: no adapter_config.json in it{hint}")
    check_adapter_fits(model, path)
    try:
        with _quiet():
            return PeftModel.from_pretrained(model, str(path), is_trainable=trainable)
    except (RuntimeError, ValueError, KeyError) as e:
        raise ModelLoadError(f"adapter {adapter_dir} does not fit this base model: {_first_line(e)}") from None


def check_adapter_fits(model: Any, adapter_dir: Path) -> None:
    """Compare every LoRA matrix's shape with the base layer it adapts.

    PEFT's own errors for a wrong base are a wall of size-mismatch lines (or, when the
    module names happen to match, nothing at all); one line naming the first misfit
    is what a person needs.
    """
    from safetensors import safe_open

    weights = adapter_dir / "adapter_model.safetensors"
    if not weights.exists():
        return  # pickle adapters are left to PEFT (and refused unless allowed upstream)
    with safe_open(str(weights), framework="pt") as f:
        for key in f.keys():
            m = re.fullmatch(r"(?:base_model\.model\.)?(.+)\.lora_([AB])(?:\.[^.]+)?\.weight", key)
            if not m:
                continue
            module_path, which = m.group(1), m.group(2)
            try:
                layer = model.get_submodule(module_path)
            except AttributeError:
                raise ModelLoadError(
                    f"adapter {adapter_dir} does not fit this base model: it adapts '{module_path}', which the base model lacks"
                ) from None
            in_f, out_f = getattr(layer, "in_features", None), getattr(layer, "out_features", None)
            shape = f.get_slice(key).get_shape()
            want, got = (in_f, shape[1]) if which == "A" else (out_f, shape[0])
            if want is not None and want != got:
                raise ModelLoadError(
                    f"adapter {adapter_dir} does not fit this base model: '{module_path}' has size {want} "
                    f"but the adapter expects {got} (was it trained on another base?)"
                )


# ---------------------------------------------------------------------------
# 4-bit


def _bnb_config(compute_dtype: torch.dtype) -> Any:
    try:
        import bitsandbytes  # noqa: F401
        from transformers import BitsAndBytesConfig
    except Exception as e:
        raise ModelLoadError(f"4-bit loading needs bitsandbytes, which cannot load here: {_first_line(e)}") from None
    return BitsAndBytesConfig(
        load_in_4bit=True,
        bnb_4bit_quant_type="nf4",
        bnb_4bit_use_double_quant=True,
        # Compute in the dtype asked for: fp32 on CPU by default (exact; 4-bit is for GPU
        # memory anyway), bf16/fp16 on CUDA.
        bnb_4bit_compute_dtype=compute_dtype,
    )


def guard_4bit_cpu(model: Any) -> int:
    """Stop bitsandbytes repacking 4-bit weights for CPU inference.

    On CPUs with AVX-512 bf16, a no-grad eval forward repacks Linear4bit weights into
    a layout with no backward; later training then raises or, worse, trains with wrong
    gradients (environment.md).  Turning the fast path off on every layer keeps one
    layout for inference and training.  Returns how many layers were guarded.
    """
    try:
        import bitsandbytes as bnb
    except Exception:
        return 0
    n = 0
    for module in model.modules():
        if isinstance(module, bnb.nn.Linear4bit):
            module.support_avx512bf16_for_cpu = False
            n += 1
    return n


# ---------------------------------------------------------------------------
# Helpers


def _first_line(e: BaseException) -> str:
    text = str(e).strip() or type(e).__name__
    return text.splitlines()[0][:300]


def _explain_load_error(name: str, source: str, e: BaseException) -> str:
    msg = _first_line(e)
    if not _is_pathlike(name) and not is_reference(name):
        offline = os.environ.get("HF_HUB_OFFLINE", "") not in ("", "0", "false", "False")
        where = " and the hub is offline (set HF_HUB_OFFLINE=0 to allow downloads)" if offline else ""
        return f"cannot load model '{name}': not a local path, not in the Hugging Face cache{where} ({msg})"
    if "safetensors" in msg.lower() or "no file named" in msg.lower():
        return f"cannot load model '{name}': {msg} (only safetensors weights load unless allow_pickle is set)"
    return f"cannot load model '{name}' from {source}: {msg}"


@contextlib.contextmanager
def _quiet():
    """Silence progress bars and advisory warnings that bury the messages users need."""
    from transformers.utils import logging as hf_logging

    old = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()
    old_pb = os.environ.get("HF_HUB_DISABLE_PROGRESS_BARS")
    os.environ["HF_HUB_DISABLE_PROGRESS_BARS"] = "1"
    try:
        with contextlib.redirect_stderr(io.StringIO()) if os.environ.get("KD_STUDIO_VERBOSE") is None else contextlib.nullcontext():
            yield
    finally:
        hf_logging.set_verbosity(old)
        if old_pb is None:
            os.environ.pop("HF_HUB_DISABLE_PROGRESS_BARS", None)
        else:
            os.environ["HF_HUB_DISABLE_PROGRESS_BARS"] = old_pb


def max_positions(model: Any) -> int | None:
    """The longest sequence the model takes (through PEFT wrappers; GPT-2 names it n_positions)."""
    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    cfg = base.config.get_text_config() if hasattr(base.config, "get_text_config") else base.config
    return getattr(cfg, "max_position_embeddings", None) or getattr(cfg, "n_positions", None)


def causal_lm_parts(model: torch.nn.Module) -> tuple[Any, Any, float | None]:
    """(decoder body, output layer, logit softcap) of a causal LM, through PEFT wrappers."""
    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    body = base.get_decoder() if hasattr(base, "get_decoder") else None
    head = base.get_output_embeddings()
    if body is None or head is None:
        raise KDError(f"{type(base).__name__}: cannot find the decoder and output layer")
    cfg = getattr(base.config, "get_text_config", lambda: base.config)()
    return body, head, getattr(cfg, "final_logit_softcapping", None)
