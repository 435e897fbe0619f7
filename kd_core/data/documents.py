"""Documents for prompt distillation (methods.md section 2): reading and chunking.

Documents come in as `.txt` / `.md` files (one document each; the id is the file
name without its extension) or `.jsonl` files (one document per line: a ``text``
field, optional ``id`` and ``title``).  A document is split into chunks that fit in
the model's prompt together with a question and an answer: paragraphs (blank-line
separated) are packed in order up to `chunk_tokens`; a paragraph longer than that is
split between sentences, and a sentence longer than that between words, so a
document longer than any context still goes in, a chunk at a time.

Reading is all-or-nothing per call: a file that is missing, empty, binary, not
UTF-8, or has a bad JSONL line raises `InputFileError` naming the file (and line),
and nothing is written to the project, so a rejected upload never leaves half a
corpus behind.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Sequence

from kd_core.data.files import jsonl_rows
from kd_core.data.prompt_files import decode_text
from kd_core.errors import InputFileError, KDError
from kd_core.limits import Limits, check_count, current as current_limits

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerBase

DOC_SUFFIXES = (".txt", ".md", ".markdown", ".jsonl")
_ID_OK = re.compile(r"[^A-Za-z0-9._-]+")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=\S)")


@dataclass(frozen=True)
class Document:
    id: str
    text: str
    title: str = ""
    source: str = ""  # the file (and line) it came from


@dataclass(frozen=True)
class Chunk:
    id: str  # "<doc id>#<n>", n from 1: the source of the questions made from it
    doc_id: str
    n: int
    text: str
    tokens: int

    def to_dict(self) -> dict:
        return asdict(self)


def _doc_id(raw: str) -> str:
    # Ids name chunks ("doc#3") and files; keep them to characters that are safe in both.
    return _ID_OK.sub("-", raw.strip()).strip("-") or "doc"


def read_document_file(path: str | Path, limits: Limits | None = None) -> list[Document]:
    """The documents in one file (see the module docstring for the formats); more than
    `limits.documents` in it (the process's limits by default) is refused."""
    limits = limits or current_limits()
    p = Path(path).expanduser()
    name = str(path)
    if not p.exists():
        raise InputFileError(f"document not found: {name}")
    if p.is_dir():
        raise InputFileError(f"{name} is a directory; give the document files inside it")
    suffix = p.suffix.lower()
    if suffix not in DOC_SUFFIXES:
        raise InputFileError(f"{name}: unsupported document type '{p.suffix or '(none)'}' (use {', '.join(DOC_SUFFIXES)})")
    try:
        data = p.read_bytes()
    except OSError as e:
        raise InputFileError(f"cannot read document {name}: {e.strerror or e}") from None
    text = decode_text(name, data)  # empty, binary, UTF-16 and non-UTF-8 files are named here
    if suffix != ".jsonl":
        return [Document(_doc_id(p.stem), text.strip(), title=p.stem, source=name)]
    docs = []
    for n, row in jsonl_rows(name, text):
        if not isinstance(row, dict) or not isinstance(row.get("text"), str):
            raise InputFileError(f"{name}, line {n}: expected an object with a 'text' field (a string)")
        if not row["text"].strip():
            raise InputFileError(f"{name}, line {n}: the document's 'text' is empty")
        doc_id = _doc_id(str(row.get("id") or f"{p.stem}-{n}"))
        docs.append(Document(doc_id, row["text"].strip(), str(row.get("title") or ""), f"{name}, line {n}"))
        check_count(name, len(docs), limits.documents, "documents or more", "documents")
    if not docs:
        raise InputFileError(f"{name}: no documents in the file")
    return docs


def read_documents(paths: Sequence[str | Path], limits: Limits | None = None) -> list[Document]:
    """Every document in `paths`, checked as a whole: ids unique across files, no more
    than `limits.documents` in all (the process's limits by default)."""
    limits = limits or current_limits()
    if not paths:
        raise KDError("no document files given")
    check_count(f"{len(paths)} document files", len(paths), limits.documents, "files", "documents")
    docs: list[Document] = []
    seen: dict[str, str] = {}
    for path in paths:
        for doc in read_document_file(path, limits):
            if doc.id in seen:
                raise InputFileError(f"{doc.source}: document id '{doc.id}' is used twice (also in {seen[doc.id]})")
            seen[doc.id] = doc.source
            docs.append(doc)
        check_count(f"the documents of {len(paths)} file{'s' * (len(paths) != 1)}", len(docs), limits.documents, "documents",
                    "documents")
    return docs


def _pieces(text: str, count: Callable[[str], int], limit: int) -> list[str]:
    """`text` cut into pieces of at most `limit` tokens: between sentences, else words."""
    if count(text) <= limit:
        return [text]
    units = _SENTENCE_END.split(text)
    if len(units) == 1:
        units = text.split()
        if len(units) == 1:  # one unbroken token run (a URL, a hash): cut by characters
            step = max(1, len(text) * limit // max(1, count(text)))
            cut = [text[i : i + step] for i in range(0, len(text), step)]
            return [q for piece in cut for q in (_pieces(piece, count, limit) if count(piece) > limit else [piece])]
    return _pack(units, count, limit, " ")


def _pack(units: list[str], count: Callable[[str], int], limit: int, sep: str) -> list[str]:
    out: list[str] = []
    current = ""
    for unit in units:
        if count(unit) > limit:  # a unit too long on its own is cut further
            if current:
                out.append(current)
                current = ""
            out.extend(_pieces(unit, count, limit))
            continue
        joined = f"{current}{sep}{unit}" if current else unit
        if current and count(joined) > limit:
            out.append(current)
            current = unit
        else:
            current = joined
    if current:
        out.append(current)
    return out


def chunk_document(doc: Document, count_tokens: Callable[[str], int], chunk_tokens: int) -> list[Chunk]:
    """`doc` as chunks of at most `chunk_tokens` tokens, paragraphs kept whole where they fit."""
    if chunk_tokens < 16:
        raise KDError(f"chunk_tokens: must be >= 16 (got {chunk_tokens})")
    paragraphs = [" ".join(p.split()) for p in re.split(r"\n\s*\n", doc.text) if p.strip()]
    texts = _pack(paragraphs, count_tokens, chunk_tokens, "\n\n")
    return [Chunk(f"{doc.id}#{i}", doc.id, i, t, count_tokens(t)) for i, t in enumerate(texts, 1)]


def token_counter(tokenizer: PreTrainedTokenizerBase) -> Callable[[str], int]:
    return lambda text: len(tokenizer(text, add_special_tokens=False)["input_ids"])
