"""References: ``scheme:name`` strings that stand for a model, a file, a question set or
a list of prompts that a plugin ships, such as the embedded demo's ``demo:gemma3-270m``,
``demo:seeds``, ``demo:test`` or ``demo:replay``.

This module is the one place such references are resolved.  The core knows no scheme
itself: a plugin declares a resolver under the entry-point group ``kd_studio.references``
(the entry point's name is the scheme; the demo's is in pyproject.toml), and the resolver
is imported only when one of its references is first used.  A resolver is any object
with some of these methods (a missing one means the plugin ships no such thing):

- ``file(name) -> Path``: a file (seed prompts, documents);
- ``model(name) -> Path``: a model's weights, a ``.gguf`` file or a model folder;
- ``questions(name) -> list[QAItem]``: a question set with answers
  (raise ValueError for an unknown name);
- ``prompts(name) -> list[str]``: prompts without answers;
- ``coverage(name) -> Coverage | None``: how a question set's facts are recognized in
  training pairs (the recipe report's fact coverage);
- ``default_model(role) -> dict``: ``{"name": ..., "adapter": ...}`` of the model a run
  uses for `role` (base, finetuned, target) when none is named;
- ``hub_id(name) -> str | None``: the Hugging Face Hub id a model was made from (what
  adapters and model cards name as their base, so they mean something elsewhere).
"""

from __future__ import annotations

import re
from functools import lru_cache
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any, Callable, Protocol

from kd_core.errors import KDError

GROUP = "kd_studio.references"
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9_-]+):(.*)$", re.S)  # two letters at least: "C:\..." is a path


class Coverage(Protocol):
    """Which facts of a question set a (prompt, answer) training pair states."""

    total: int  # facts in the question set's world
    key: str  # the evaluation items' field the facts' names are in ("fact")

    def stated(self, prompt: str, response: str) -> set[str]: ...


@lru_cache(maxsize=None)
def _entry_points() -> dict[str, Any]:
    return {ep.name: ep for ep in entry_points(group=GROUP)}


@lru_cache(maxsize=None)
def _resolver(scheme: str) -> Any:
    return _entry_points()[scheme].load()


def schemes() -> list[str]:
    """The schemes installed plugins resolve."""
    return sorted(_entry_points())


def is_reference(text: Any) -> bool:
    """Whether `text` is ``scheme:name`` for an installed plugin's scheme."""
    if not isinstance(text, str):
        return False
    m = _SCHEME.match(text)
    return m is not None and m.group(1) in _entry_points()


def split(ref: str) -> tuple[str, str]:
    """(scheme, name) of a reference."""
    m = _SCHEME.match(ref)
    if m is None or m.group(1) not in _entry_points():
        raise KDError(f"'{ref}' is not a reference (scheme:name with one of the schemes {', '.join(schemes()) or 'none installed'})")
    return m.group(1), m.group(2)


def _method(ref: str, what: str, kind: str) -> tuple[Callable[..., Any], str]:
    scheme, name = split(ref)
    method = getattr(_resolver(scheme), what, None)
    if method is None:
        raise KDError(f"'{ref}': the '{scheme}' plugin ships no {kind}")
    return method, name


def resolve_file(ref: str) -> str:
    """The file a reference stands for; anything else is returned as it is (a path)."""
    if not is_reference(ref):
        return ref
    method, name = _method(ref, "file", "files")
    return str(method(name))


def resolve_model(ref: str) -> Path:
    """A model reference's weights: a ``.gguf`` file or a model folder."""
    method, name = _method(ref, "model", "models")
    return Path(method(name))


def hub_id(ref: str) -> str | None:
    """The Hub id a model reference was made from, when its plugin knows one."""
    scheme, name = split(ref)
    method = getattr(_resolver(scheme), "hub_id", None)
    return method(name) if method is not None else None


def resolve_questions(ref: str) -> list[Any]:
    """A question-set reference's QAItems (ValueError for a name the plugin does not know)."""
    method, name = _method(ref, "questions", "question sets")
    return list(method(name))


def resolve_prompts(ref: str) -> list[str]:
    """A prompt-list reference's prompts."""
    method, name = _method(ref, "prompts", "prompt lists")
    return list(method(name))


def coverage(ref: str | None) -> Coverage | None:
    """The fact coverage of a question set, when it is a reference whose plugin measures
    one; None otherwise."""
    if not ref or not is_reference(ref):
        return None
    scheme, name = split(ref)
    method = getattr(_resolver(scheme), "coverage", None)
    return method(name) if method is not None else None


def default_model(role: str) -> dict[str, Any]:
    """``{"name", "adapter"}`` of the model a run uses for `role` when none is named: the
    first installed plugin's that has one."""
    for scheme in schemes():
        method = getattr(_resolver(scheme), "default_model", None)
        if method is not None:
            return dict(method(role))
    raise KDError(f"no {role} model named, and no installed plugin provides a default one")
