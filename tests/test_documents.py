"""Documents for prompt distillation: formats, chunking within a token budget, bad files
named, and a rejected ingest leaving the project as it was."""

import json

import pytest

from kd_core.data.documents import Document, chunk_document, read_documents
from kd_core.data.retrieval import BM25
from kd_core.distill.stages import ingest, load_chunks
from kd_core.errors import InputFileError, KDError
from kd_core.project import Project


def words(text: str) -> int:
    """A tokenizer stand-in for chunking arithmetic: one token per word."""
    return len(text.split())


def test_txt_md_and_jsonl_documents_are_read_with_ids(tmp_path):
    (tmp_path / "harbor notes.txt").write_text("The harbor was built in 1402.\n")
    (tmp_path / "lamp.md").write_text("# Lamp\n\nThe lamp burns.\n")
    (tmp_path / "more.jsonl").write_text(json.dumps({"id": "ships", "title": "Ships", "text": "The Marrow sank."}) + "\n\n"
                                         + json.dumps({"text": "No id here."}) + "\n")
    docs = read_documents([tmp_path / "harbor notes.txt", tmp_path / "lamp.md", tmp_path / "more.jsonl"])
    assert [d.id for d in docs] == ["harbor-notes", "lamp", "ships", "more-3"]
    assert docs[2].title == "Ships" and docs[3].source.endswith("more.jsonl, line 3")


@pytest.mark.parametrize("name, content, message", [
    ("empty.txt", b"", "the file is empty"),
    ("blank.md", b"  \n\n ", "the file is empty"),
    ("image.txt", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "binary"),
    ("latin1.txt", "caf\u00e9 au lait\nna\u00efve".encode("latin-1"), "line 1 is not valid UTF-8"),
    ("doc.pdf", b"%PDF-1.4", "unsupported document type '.pdf'"),
    ("bad.jsonl", b'{"text": "fine"}\n{"text": broken\n', "bad.jsonl, line 2: not valid JSON"),
    ("notext.jsonl", b'{"body": "no text field"}\n', "line 1: expected an object with a 'text' field"),
    ("emptytext.jsonl", b'{"text": "   "}\n', "line 1: the document's 'text' is empty"),
])
def test_bad_document_files_are_named_with_the_reason(tmp_path, name, content, message):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(InputFileError, match=message) as e:
        read_documents([path])
    assert name in str(e.value)


def test_a_missing_file_and_a_reused_id_are_named(tmp_path):
    with pytest.raises(InputFileError, match="document not found: .*nope.txt"):
        read_documents([tmp_path / "nope.txt"])
    (tmp_path / "a.txt").write_text("One.")
    (tmp_path / "b.jsonl").write_text(json.dumps({"id": "a", "text": "Two."}) + "\n")
    with pytest.raises(InputFileError, match="document id 'a' is used twice"):
        read_documents([tmp_path / "a.txt", tmp_path / "b.jsonl"])


def test_paragraphs_are_packed_whole_up_to_the_budget():
    paragraphs = ["one two three four five six", "seven eight nine ten eleven", "a b c d e", "last"]
    chunks = chunk_document(Document("d", "\n\n".join(paragraphs)), words, chunk_tokens=16)  # 6 + 5 + 5 fill one
    assert [c.text.split("\n\n") for c in chunks] == [paragraphs[:3], paragraphs[3:]]
    assert [c.id for c in chunks] == ["d#1", "d#2"]


def test_a_document_longer_than_any_context_is_cut_between_sentences_then_words():
    sentence = "The harbor of Kell was founded by Ostra in the old year."  # 12 words
    long_paragraph = " ".join([sentence] * 200)  # one 2,400-word paragraph
    unbroken = " ".join(["word"] * 100)  # a "sentence" longer than a chunk
    chunks = chunk_document(Document("big", f"{long_paragraph}\n\n{unbroken}"), words, chunk_tokens=30)
    assert all(c.tokens <= 30 for c in chunks)
    assert " ".join(" ".join(c.text.split()) for c in chunks) == " ".join(f"{long_paragraph} {unbroken}".split())  # nothing lost
    sentence_chunks = [c for c in chunks if "harbor" in c.text]
    assert all(c.text.endswith(".") for c in sentence_chunks)  # cut between sentences, never inside one


def test_an_unbroken_run_longer_than_a_chunk_is_cut_within_the_budget(tiny_llama_dir):
    from transformers import AutoTokenizer

    from kd_core.data.documents import token_counter

    count = token_counter(AutoTokenizer.from_pretrained(tiny_llama_dir))
    blob = "0f3a9c" * 400  # a hash-like run: no sentence, no space
    chunks = chunk_document(Document("hash", blob), count, chunk_tokens=16)
    assert len(chunks) > 10 and all(c.tokens <= 16 for c in chunks)
    assert "".join(c.text for c in chunks) == blob


def test_ingest_refuses_chunks_that_do_not_fit_the_context_and_writes_nothing(tmp_path, tiny_llama_dir):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny_llama_dir)
    with pytest.raises(KDError, match="chunk_tokens: 480 tokens of document plus 96 .* exceed the model's context of 512"):
        ingest(tmp_path, [Document("d", "Some text.")], tok, chunk_tokens=480, context_limit=512, reserve_tokens=96)
    assert not Project(tmp_path).chunks.exists() and not Project(tmp_path).documents_file.exists()


def test_ingest_again_keeps_the_project_and_refuses_a_changed_document(tmp_path, tiny_llama_dir):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny_llama_dir)
    first = ingest(tmp_path, [Document("d", "The harbor was built.\n\nThe lamp burns.")], tok, 64, 512, 96, log=lambda m: None)
    before = Project(tmp_path).chunks.read_bytes()
    assert ingest(tmp_path, [Document("d", "The harbor was built.\n\nThe lamp burns.")], tok, 64, 512, 96, log=lambda m: None) == first
    with pytest.raises(KDError, match="document 'd' differs from the one already in"):
        ingest(tmp_path, [Document("d", "Another text.")], tok, 64, 512, 96)
    with pytest.raises(KDError, match="was chunked with 64 tokens, not 32"):
        ingest(tmp_path, [Document("e", "New.")], tok, 32, 512, 96)
    assert Project(tmp_path).chunks.read_bytes() == before
    both = ingest(tmp_path, [Document("e", "A second document.")], tok, 64, 512, 96, log=lambda m: None)
    assert [c.id for c in both] == [c.id for c in first] + ["e#1"] == [c.id for c in load_chunks(tmp_path)]


def test_bm25_ranks_the_chunk_that_shares_the_rare_words_first():
    texts = ["The harbor of Kell was founded by Ostra.", "The lamp of Brine burns on the tower.", "Ships sail from the harbor."]
    index = BM25(texts)
    assert index.top_k("Who founded Kell harbor?", 2) == [0, 2]
    assert index.top_k("Where does the Brine lamp burn?", 1) == [1]
    assert index.scores("nothing shared here")[0] == 0.0
