"""Every path a browser sends, confined.

The server (`kd-studio serve`) holds one `Gate`: its projects root, the model folders
it was started with (`--models-dir`) and the upload folder.  Whatever a page or an API
call names (a project, a model, a file to read) is resolved here, symlinks included,
before anything opens it; outside the places it allows, it is refused with one plain
message that says nothing about what lies there (exists or not, file or folder).  The
CLI never goes through a gate: its user owns the shell.

Allowed:
- projects: folders inside the root (``name``, ``team/name`` or an absolute path inside
  it), for a curator only under the top-level folders its account names; never the
  root itself, never inside the upload folder;
- models: ``demo:`` names, hub ids (offline: the local hub cache), and folders or
  ``.gguf`` files inside a models folder or inside a project the caller may open (a
  job's adapter);
- files to read (documents, question sets, training data, pools, Parquet): inside a
  project the caller may open.  Uploads reach the handlers as Gradio's own file objects,
  never as typed paths, so the upload folder itself is refused like any other.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from kd_core.access.roles import Caller, require
from kd_core.data.references import is_reference
from kd_core.errors import KDError

# A hub id: one or two names of letters, digits, - _ . (never . or .. alone), nothing else.
_HUB_ID = re.compile(r"^(?!\.{1,2}(/|$))[A-Za-z0-9_.-]+(/(?!\.{1,2}$)[A-Za-z0-9_.-]+)?$")
PROJECT_REFUSED = "not a project of this server: name a project folder under the projects root (e.g. demo)"
FILE_REFUSED = "not a file of a project you may open: give a path inside the project (e.g. data/train.jsonl)"
MODEL_REFUSED = "not a model this server offers: a demo:NAME, a hub id, or a folder under the server's models folders or a project's jobs/"


class Confined(KDError):
    """A path outside what the server allows (the message never says what is there)."""


@dataclass(frozen=True)
class Gate:
    root: Path
    models_dirs: tuple[Path, ...] = ()
    upload_dir: Path | None = None
    cwd: Path = field(default_factory=Path.cwd)  # where a relative hub-id-looking name would be found as a folder

    @classmethod
    def create(cls, root: str | Path, models_dirs: tuple[str | Path, ...] = (), upload_dir: str | Path | None = None) -> "Gate":
        """The gate of a server: makes the root; refuses a root inside the upload folder
        (or the other way round), where anyone's upload could become a project file."""
        r = Path(root).expanduser().resolve()
        up = Path(upload_dir).expanduser().resolve() if upload_dir else None
        if up and (r == up or r.is_relative_to(up) or up.is_relative_to(r)):
            raise KDError(f"projects root {r} and the upload folder {up} must not contain one another")
        r.mkdir(parents=True, exist_ok=True)
        return cls(r, tuple(Path(m).expanduser().resolve() for m in models_dirs), up)

    # -- where a name lands --------------------------------------------------------

    def _resolve(self, text: str | None, base: Path, refused: str) -> Path:
        text = (text or "").strip()
        if not text or text.startswith("~") or "\x00" in text:
            raise Confined(refused)
        p = Path(text)
        try:
            return (p if p.is_absolute() else base / p).resolve()
        except (OSError, RuntimeError):  # a symlink loop, a name too long
            raise Confined(refused) from None

    def _in_upload(self, p: Path) -> bool:
        return self.upload_dir is not None and p.is_relative_to(self.upload_dir)

    def _project_of(self, p: Path, caller: Caller) -> str | None:
        """The project name `p` lies in (itself or below it), if the caller may open it."""
        if not p.is_relative_to(self.root) or p == self.root or self._in_upload(p):
            return None
        name = p.relative_to(self.root).parts[0]
        return name if caller.may_open(name) else None

    # -- what the app asks ---------------------------------------------------------

    def project(self, caller: Caller, text: str | None, action: str = "open") -> Path:
        """The project folder a page names: a folder inside the root the caller may open.
        `action` "create" may name one that does not exist yet; others must exist."""
        require(caller, action)
        p = self._resolve(text, self.root, PROJECT_REFUSED)
        if self._project_of(p, caller) is None:
            raise Confined(PROJECT_REFUSED)
        if action != "create" and not p.is_dir():
            raise Confined(PROJECT_REFUSED)
        return p

    def file(self, caller: Caller, text: str | None, project: Path | None = None) -> Path:
        """A file to read, named by a page: inside a project the caller may open (a
        relative name is taken inside `project` when given, else under the root)."""
        p = self._resolve(text, project or self.root, FILE_REFUSED)
        if self._project_of(p, caller) is None:
            raise Confined(FILE_REFUSED)
        return p

    def model(self, caller: Caller, text: str | None, project: Path | None = None) -> str:
        """A model name a page gives, as the loader should get it (a path resolved)."""
        text = (text or "").strip()
        if not text:
            raise Confined(MODEL_REFUSED)
        if is_reference(text):
            return text
        as_folder = (self.cwd / text) if not Path(text).is_absolute() else Path(text)
        if _HUB_ID.match(text) and not text.endswith(".gguf") and not as_folder.exists():
            return text  # a hub id: never a folder of this machine (none there under that name)
        p = self._resolve(text, project or self.root, MODEL_REFUSED)
        if self._in_upload(p):
            raise Confined(MODEL_REFUSED)
        if any(p == m or p.is_relative_to(m) for m in self.models_dirs) or self._project_of(p, caller) is not None:
            return str(p)
        raise Confined(MODEL_REFUSED)

    def owns(self, caller: Caller, path: str | Path) -> bool:
        """Whether `path` (resolved) lies inside a project the caller may open."""
        return self._project_of(Path(path).resolve(), caller) is not None

    def projects(self, caller: Caller) -> list[str]:
        """The projects under the root this caller may open, by name."""
        return sorted(d.name for d in self.root.iterdir() if d.is_dir() and not d.name.startswith(".") and caller.may_open(d.name))

    def download(self, caller: Caller, path: str | Path) -> Path:
        """A file the server hands to a browser: only from inside a project the caller may open."""
        p = Path(path).resolve()
        if self._project_of(p, caller) is None or not p.is_file():
            raise Confined(FILE_REFUSED)
        return p
