"""The Train tab's training settings, generated from `TrainConfig` and `LoraSettings`.

One widget per field of the two dataclasses (`kd_core.training.config`), picked from its
type (bool -> Checkbox, int/float -> Number, a field with "choices" -> Dropdown, a list
with choices -> multi-select Dropdown, str -> Textbox), labelled with the field's YAML
name (`loss`, `lora.r`: the name a core error message uses) and showing its help text.
The basic settings are open; the rest sit in an Accordion, grouped.  A field added to the
config gets a widget here without an edit (in "Other settings" until a group names it),
so the form can never fall behind the YAML.

`config_to_values(cfg)` and `values_to_config(values)` convert between a TrainConfig and
the widgets' values (a mapping by key, or a sequence in `keys()` order: what a Gradio
handler receives); `values_to_config` validates through `TrainConfig.from_dict`, so a
bad value is refused with the same message as in a YAML file.

Not wired into ui/train.py here: `build_settings()` returns the widgets by key for the
tab to place in its inputs and outputs.
"""

from __future__ import annotations

import dataclasses
import typing
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import gradio as gr

from kd_core.errors import KDError
from kd_core.training.config import TrainConfig

FILLED_BY_JOB = ("output_dir",)  # the job sets it to its own folder: no widget
BASIC = ("loss", "epochs", "max_steps", "learning_rate", "batch_size", "kd_temperature", "lora.r", "lora.alpha")
GROUPS = {
    "Optimizer and schedule": ("grad_accum", "warmup", "weight_decay", "scheduler", "max_length", "seed", "system"),
    "Knowledge distillation (kd, mix)": ("kd_weight", "sft_weight", "kd_chunk_size", "teacher_cache_mb"),
    "Evaluation and reports": ("eval_fraction", "eval_data", "eval_steps", "early_stopping_patience", "report_to",
                               "logging_steps"),
    "Checkpoints": ("save_steps", "save_total_limit"),
    "LoRA": ("lora.dropout", "lora.target_modules", "lora.full_blocks"),
}
OTHER = "Other settings"


@dataclass(frozen=True)
class Setting:
    """One training setting as the form shows it."""

    key: str  # YAML path under train: "loss", "lora.r"
    kind: str  # bool | int | float | choice | choices (a list from choices) | text | list | modules (str or list)
    default: Any
    help: str
    choices: tuple[str, ...] = ()
    optional: bool = False  # None allowed (an empty box means None)


def _kind(hint: Any, meta: Mapping[str, Any]) -> tuple[str, bool]:
    args = typing.get_args(hint)
    optional = type(None) in args
    if optional:
        rest = [a for a in args if a is not type(None)]
        hint = rest[0] if len(rest) == 1 else typing.Union[tuple(rest)]
        args = typing.get_args(hint)
    if typing.get_origin(hint) is list:
        return ("choices" if meta.get("choices") else "list"), optional
    if args and str in args and any(typing.get_origin(a) is list for a in args):
        return "modules", optional  # str | list[str]: one name, or several separated by commas
    if hint is bool:
        return "bool", optional
    if hint in (int, float):
        return hint.__name__, optional
    if hint is str:
        return ("choice" if meta.get("choices") else "text"), optional
    raise TypeError(f"no widget for a setting of type {hint!r}: add one to ui.train_form._kind")


def _settings(cls: type, prefix: str = "") -> list[Setting]:
    hints = typing.get_type_hints(cls)
    instance = cls()
    out = []
    for f in dataclasses.fields(cls):
        if not prefix and f.name in FILLED_BY_JOB:
            continue
        value = getattr(instance, f.name)
        if dataclasses.is_dataclass(value):
            out += _settings(type(value), f"{prefix}{f.name}.")
            continue
        kind, optional = _kind(hints[f.name], f.metadata)
        out.append(Setting(prefix + f.name, kind, value, f.metadata.get("help", ""), tuple(f.metadata.get("choices", ())), optional))
    return out


SETTINGS: tuple[Setting, ...] = tuple(_settings(TrainConfig))


def keys() -> list[str]:
    """The settings' keys, in the order of `build_settings`'s widgets and of a handler's values."""
    return [s.key for s in SETTINGS]


def groups() -> dict[str, list[str]]:
    """The advanced settings by group; a setting no group names goes under OTHER."""
    named = {k for ks in GROUPS.values() for k in ks}
    out = {title: [k for k in ks if k in keys()] for title, ks in GROUPS.items()}
    rest = [k for k in keys() if k not in named and k not in BASIC]
    if rest:
        out[OTHER] = rest
    return {title: ks for title, ks in out.items() if ks}


# ---------------------------------------------------------------------------
# TrainConfig <-> widget values


def _get(cfg: TrainConfig, key: str) -> Any:
    value: Any = cfg
    for part in key.split("."):
        value = getattr(value, part)
    return value


def _to_widget(s: Setting, value: Any) -> Any:
    if s.kind == "choices":
        return [v for v in value if v != "none"]  # nothing selected: report to none
    if s.kind in ("modules", "list"):
        return ", ".join(value) if isinstance(value, list) else value
    if s.kind == "text" and value is None:
        return ""
    return list(value) if isinstance(value, list) else value


def config_to_values(cfg: TrainConfig) -> dict[str, Any]:
    """Each widget's value for `cfg`, by key."""
    by_key = {s.key: s for s in SETTINGS}
    return {k: _to_widget(by_key[k], _get(cfg, k)) for k in keys()}


def _from_widget(s: Setting, value: Any) -> Any:
    where = f"train.{s.key}"
    if s.kind in ("int", "float"):
        if value is None or (isinstance(value, str) and not value.strip()):
            raise KDError(f"{where}: empty (type a number)")
        if isinstance(value, str):
            try:
                value = float(value.strip())
            except ValueError:
                raise KDError(f"{where}: '{value}' is not a number") from None
        if s.kind == "int":
            if isinstance(value, float) and not value.is_integer():
                raise KDError(f"{where}: expected a whole number, got {value}")
            return int(value)  # gr.Number hands over 8.0 for 8
        return float(value)
    if s.kind == "bool":
        return bool(value)
    if s.kind == "choices":
        return list(value or []) or ["none"]
    if s.kind == "list":
        return [n.strip() for n in str(value or "").split(",") if n.strip()]
    if s.kind == "modules":
        names = [n.strip() for n in str(value or "").split(",") if n.strip()]
        if not names:
            raise KDError(f"{where}: empty (all-linear, or module names separated by commas)")
        return names[0] if len(names) == 1 else names
    text = "" if value is None else str(value)
    if s.optional and not text.strip():
        return None
    return text


def values_to_mapping(values: Mapping[str, Any] | Sequence[Any], changed_only: bool = False) -> dict[str, Any]:
    """The `train:` mapping of a YAML job config for the widgets' values (by key, or a
    sequence in `keys()` order); `changed_only` leaves out settings at their default."""
    if not isinstance(values, Mapping):
        values = list(values)
        if len(values) != len(SETTINGS):
            raise KDError(f"the training form sent {len(values)} values for {len(SETTINGS)} settings")
        values = dict(zip(keys(), values))
    out: dict[str, Any] = {}
    for s in SETTINGS:
        if s.key not in values:
            continue
        value = _from_widget(s, values[s.key])
        if changed_only and value == s.default:
            continue
        *parents, name = s.key.split(".")
        target = out
        for part in parents:
            target = target.setdefault(part, {})
        target[name] = value
    return out


def values_to_config(values: Mapping[str, Any] | Sequence[Any]) -> TrainConfig:
    """A validated TrainConfig from the widgets' values; settings left out keep their
    defaults.  A bad value is a KDError naming `train.<key>`, as for a YAML file."""
    return TrainConfig.from_dict(values_to_mapping(values))


# ---------------------------------------------------------------------------
# Widgets


def _widget(s: Setting, value: Any, elem_prefix: str) -> gr.components.Component:
    common = dict(label=s.key, info=s.help, elem_id=f"{elem_prefix}{s.key.replace('.', '-').replace('_', '-')}")
    if s.kind == "bool":
        return gr.Checkbox(value=value, **common)
    if s.kind in ("int", "float"):
        return gr.Number(value=value, precision=0 if s.kind == "int" else None, **common)
    if s.kind == "choice":
        return gr.Dropdown(choices=list(s.choices), value=value, **common)
    if s.kind == "choices":
        return gr.Dropdown(choices=[c for c in s.choices if c != "none"], value=value, multiselect=True, **common)
    return gr.Textbox(value=value, placeholder="empty: none" if s.optional else None, **common)


def build_settings(cfg: TrainConfig | None = None, elem_prefix: str = "train-setting-") -> dict[str, gr.components.Component]:
    """Every training setting's widget, created in the current Blocks context (basic ones
    in a row, the rest in a closed Accordion by group), by key in `keys()` order."""
    values = config_to_values(cfg or TrainConfig())
    by_key = {s.key: s for s in SETTINGS}
    made: dict[str, gr.components.Component] = {}
    with gr.Row(equal_height=False):
        for key in BASIC:
            made[key] = _widget(by_key[key], values[key], elem_prefix)
    with gr.Accordion("All training settings", open=False, elem_id=f"{elem_prefix}advanced"):
        for title, group in groups().items():
            gr.Markdown(f"**{title}**")
            with gr.Row(equal_height=False):
                for key in group:
                    made[key] = _widget(by_key[key], values[key], elem_prefix)
    return {k: made[k] for k in keys()}
