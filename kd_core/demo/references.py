"""The demo's ``demo:`` references, plugged into kd_core.data.references through the
entry point ``kd_studio.references: demo`` (pyproject.toml):

- models: ``demo:smollm2-135m-instruct``, ``demo:gemma3-270m`` (kd_core.demo.models);
- files: ``demo:seeds`` (the world's seed prompts), ``demo:documents`` (its 11 documents);
- question sets: ``demo:test``, ``demo:train``, ``demo:train-all``, ``demo:control``;
- prompts: ``demo:replay`` (generic questions a target answers itself);
- the world's fact coverage for its question sets, and the default models of each role.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kd_core.errors import KDError


class FactCoverage:
    """The demo world's facts, as the recipe report counts them in an arm's training pairs."""

    key = "fact"  # evaluation items name their question's fact in this field

    def __init__(self) -> None:
        from kd_core.demo.world import facts

        self.total = len(facts())

    def stated(self, prompt: str, response: str) -> set[str]:
        from kd_core.demo.world import facts_stated

        return facts_stated(prompt, response)


class DemoReferences:
    def file(self, name: str) -> Path:
        from kd_core.demo.world import WORLD_DIR, seeds_path

        files = {"seeds": seeds_path(), "documents": WORLD_DIR / "documents.jsonl"}
        if name not in files:
            raise KDError(f"unknown demo file 'demo:{name}' (available: {', '.join('demo:' + n for n in files)})")
        return files[name]

    def model(self, name: str) -> Path:
        from kd_core.demo.models import demo_gguf

        return demo_gguf(name)

    def hub_id(self, name: str) -> str | None:
        from kd_core.demo.models import DEMO_MODELS

        demo = DEMO_MODELS.get(name)
        return demo.hub_id if demo is not None else None

    def questions(self, name: str) -> list[Any]:
        from kd_core.demo.world import qa_items

        return qa_items(name)

    def prompts(self, name: str) -> list[str]:
        from kd_core.demo.world import generic_questions

        if name != "replay":
            raise KDError(f"unknown demo prompts 'demo:{name}' (available: demo:replay)")
        return generic_questions("replay")

    def coverage(self, name: str) -> FactCoverage:
        return FactCoverage()

    def default_model(self, role: str) -> dict[str, Any]:
        from kd_core.demo.models import demo_spec

        spec = demo_spec(role)
        return {"name": spec.name, "adapter": spec.adapter}


DEMO = DemoReferences()
