"""Cards as the Hugging Face Hub reads them: a ``README.md`` that starts with YAML front
matter (metadata the Hub indexes) followed by Markdown for people.

Everything a card or a saved artifact records must mean the same on another machine:
`portable_name` names a model the way the Hub does (a plugin's model by the Hub id it
was made from, a hub id as it is, a local folder as the user gave it, an absolute path
by its last part only), and `scrub_paths` takes machine-local absolute paths out of any
text or JSON value.  `dataset_card` builds a dataset card whose ``configs`` point
`datasets.load_dataset` at the right files.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Sequence

import yaml

from kd_core.data.references import hub_id, is_reference

# An absolute POSIX path ("/a/b", "~/a") not inside a URL ("https://x/y") or a hub id ("org/name").
_ABS_PATH = re.compile(r"(?<![\w:/.~-])(~?/[^\s'\"`,;()\[\]{}<>|]+)")


def portable_name(name: str | None) -> str | None:
    """How an adapter or card names a model so the name means the same elsewhere.

    - a plugin's model (``demo:gemma3-270m``): the Hub id it was made from (the reference
      itself when the plugin knows none);
    - a Hub id, or a relative local path: as given;
    - an absolute local path (or one under ``~``): its last part, the folder's name;
      the path means nothing on another machine, the name still says which model.
    """
    if not name:
        return name
    if is_reference(name):
        return hub_id(name) or name
    return scrub_paths(name)


def scrub_paths(value: Any) -> Any:
    """`value` (text, or JSON-like data) with every absolute path replaced by its last part."""
    if isinstance(value, str):
        return _ABS_PATH.sub(lambda m: Path(m.group(1).rstrip("/.")).name or m.group(1), value)
    if isinstance(value, dict):
        return {k: scrub_paths(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [scrub_paths(v) for v in value]
    return value


def absolute_paths(text: str) -> list[str]:
    """The absolute paths in `text` (what `scrub_paths` would replace)."""
    return _ABS_PATH.findall(text)


def card_text(front: dict[str, Any], body: str) -> str:
    """A README.md: YAML front matter, then the Markdown body."""
    meta = yaml.safe_dump({k: v for k, v in front.items() if v not in (None, [], {})}, sort_keys=False, allow_unicode=True)
    return f"---\n{meta}---\n\n{body.strip()}\n"


def read_card(path: str | Path) -> tuple[dict[str, Any], str]:
    """(front matter, body) of a README.md; ({}, text) when it has no front matter."""
    text = Path(path).read_text(encoding="utf-8")
    if text.startswith("---\n"):
        end = text.find("\n---", 4)
        if end > 0:
            meta = yaml.safe_load(text[4:end]) or {}
            return (meta if isinstance(meta, dict) else {}), text[end + 4:].lstrip("\n")
    return {}, text


# datasets' feature types for the columns KD Studio writes
_MESSAGES = {"list": [{"name": "role", "dtype": "string"}, {"name": "content", "dtype": "string"}]}


def feature(name: str, dtype: str) -> dict[str, Any]:
    """One entry of a card's ``dataset_info.features``: dtype a datasets Value type
    (string, int64, float64), or ``messages`` for a list of chat messages."""
    return {"name": name, **(_MESSAGES if dtype == "messages" else {"dtype": dtype})}


def size_category(rows: int) -> str:
    """The Hub's size_categories bucket."""
    for limit, label in ((1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"), (1_000_000, "100K<n<1M")):
        if rows < limit:
            return label
    return "n>1M"


def dataset_card(configs: Sequence[dict[str, Any]], body: str, tags: Sequence[str] = (), pretty_name: str | None = None,
                 license: str | None = None) -> str:
    """A dataset card. Each config: ``{"name", "file", "rows", "features": [feature(...)]}``;
    `datasets.load_dataset` on the folder reads the configs' files (as their ``train`` split)
    and nothing else beside them."""
    rows = sum(c["rows"] for c in configs)
    front: dict[str, Any] = {
        "pretty_name": pretty_name,
        "license": license,
        "task_categories": ["text-generation"],
        "tags": ["kd-studio", *tags],
        "size_categories": [size_category(rows)],
        "configs": [{"config_name": c["name"], "data_files": [{"split": "train", "path": c["file"]}],
                     **({"default": True} if i == 0 else {})} for i, c in enumerate(configs)],
        "dataset_info": [{"config_name": c["name"], "features": c["features"],
                          "splits": [{"name": "train", "num_examples": c["rows"]}]} for c in configs],
    }
    if len(configs) == 1:  # one config: the plain mapping form the Hub writes
        front["dataset_info"] = {k: v for k, v in front["dataset_info"][0].items() if k != "config_name"}
    return card_text(front, body)
