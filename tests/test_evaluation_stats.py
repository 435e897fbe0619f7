"""The figures' uncertainty and the strict question reader: Wilson intervals and McNemar's
exact test against known values, SQuAD exact match and token F1 on examples, and the
question reader's messages on bad files (the file, the line and the field named)."""

import json
import math

import pytest

from kd_core.errors import InputFileError, KDError
from kd_core.evaluation.grading import exact_match, squad_normalize, token_f1
from kd_core.evaluation.questions import read_questions
from kd_core.evaluation.stats import (
    accuracy_text,
    compare,
    compare_files,
    grades_of,
    mcnemar,
    mcnemar_p,
    mcnemar_range,
    paired_text,
    wilson,
)

# --- Wilson ---------------------------------------------------------------------------


@pytest.mark.parametrize("k, n, low, high", [
    (108, 396, 0.2312, 0.3186),  # the accepted arm, as recorded in the README (23.1-31.9%)
    (190, 396, 0.4310, 0.5290),  # oracle 208 (48.0%: 43.1-52.9%)
    (28, 50, 0.4231, 0.6884),  # a 50-question control set: about +-13 points
    (0, 396, 0.0, 0.0096),  # none right: the interval still has width
    (50, 50, 0.9287, 1.0),
])
def test_wilson_matches_known_intervals(k, n, low, high):
    lo, hi = wilson(k, n)
    assert lo == pytest.approx(low, abs=1e-4) and hi == pytest.approx(high, abs=1e-4)


def test_wilson_agrees_with_its_closed_form_at_z_2_and_stays_inside_0_1():
    # Wilson at z=2, k=1, n=4: centre (0.25 + 0.5) / 2, half-width 2 * sqrt(3/64 + 1/16) / 2
    lo, hi = wilson(1, 4, z=2.0)
    assert lo == pytest.approx(0.375 - math.sqrt(7 / 64)) and hi == pytest.approx(0.375 + math.sqrt(7 / 64))
    assert wilson(0, 0) == (0.0, 1.0)
    with pytest.raises(ValueError):
        wilson(5, 4)


def test_accuracy_text_shows_the_interval():
    assert accuracy_text(108, 396) == "27.3% (108/396; 95% CI 23.1-31.9%)"
    assert accuracy_text(0, 0) == "-"


# --- McNemar --------------------------------------------------------------------------


@pytest.mark.parametrize("only_a, only_b, p", [
    (112, 30, 2.5e-12),  # oracle 208 vs the accepted arm, as recorded
    (256, 6, 1.2e-67),  # oracle 1116 vs the accepted arm
    (1, 0, 1.0),
    (5, 0, 0.0625),  # 2 * 0.5^5
    (10, 2, 0.03857421875),  # 2 * (1 + 12 + 66) / 4096
    (0, 0, 1.0),
])
def test_mcnemar_exact_p_matches_known_values(only_a, only_b, p):
    assert mcnemar_p(only_a, only_b) == pytest.approx(p, rel=0.02)
    assert mcnemar_p(only_b, only_a) == mcnemar_p(only_a, only_b)  # two-sided: symmetric


def test_mcnemar_range_bounds_the_p_of_any_pairing_of_two_counts():
    # 74 vs 79 of 396: at best 0 / 5 discordant (p = 2 / 32), never below 0.05 whatever the overlap
    low, high = mcnemar_range(74, 79, 396)
    assert low == pytest.approx(0.0625) and high == pytest.approx(mcnemar_p(74, 79))
    # 22 vs 79: significant even when the two share no correct answer
    high = mcnemar_range(22, 79, 396)[1]
    assert high == pytest.approx(mcnemar_p(22, 79)) and high < 1e-7
    # 45 and 48 of 50: at least 43 both right, so at most 2 / 5 discordant
    assert mcnemar_range(45, 48, 50) == (pytest.approx(mcnemar_p(0, 3)), pytest.approx(mcnemar_p(2, 5)))


def test_mcnemar_pairs_by_question_and_counts_the_discordant_ones():
    a = {"q1": True, "q2": True, "q3": False, "q4": False, "q5": True}
    b = {"q1": True, "q2": False, "q3": True, "q4": False, "q5": False}
    r = mcnemar(a, b)
    assert (r.only_a, r.only_b, r.both, r.neither, r.n) == (2, 1, 1, 1, 5)
    assert r.p == pytest.approx(1.0)
    assert paired_text(r) == "2 / 1, p = 1"
    with pytest.raises(KDError, match="not the same questions: 1 only in the first evaluation, 0 only in the second"):
        mcnemar(a, {k: v for k, v in b.items() if k != "q5"})


def test_evaluations_pair_by_question_text_when_their_ids_differ(tmp_path):
    rows = [{"id": i, "question": f"Q{i}?", "correct": i % 2 == 0} for i in range(6)]
    a = tmp_path / "a.jsonl"
    a.write_text("".join(json.dumps(r) + "\n" for r in rows))
    b = tmp_path / "b"
    b.mkdir()
    (b / "items.jsonl").write_text("".join(json.dumps({**r, "id": f"x{r['id']}", "correct": True}) + "\n" for r in rows))
    r = compare_files(a, b)  # a file and a folder holding items.jsonl
    assert (r.only_a, r.only_b, r.both) == (0, 3, 3)
    with pytest.raises(KDError, match="not the same questions"):
        compare(grades_of(rows), grades_of(rows[:5]))
    with pytest.raises(InputFileError, match="row 2: question id '0' occurs twice"):
        grades_of([rows[0], rows[0]])


# --- exact match and token F1 ---------------------------------------------------------


@pytest.mark.parametrize("answer, golds, em, f1", [
    ("Ostra Quill", ["Ostra Quill"], True, 1.0),
    ("the Ostra Quill.", ["ostra quill"], True, 1.0),  # case, article and punctuation dropped
    ("It was founded by Ostra Quill.", ["Ostra Quill"], False, 2 * (2 / 6) * 1 / (2 / 6 + 1)),
    ("Quill", ["Ostra Quill", "Quill"], True, 1.0),  # the best over the aliases
    ("Ostra", ["Ostra Quill"], False, 2 * 1 * 0.5 / 1.5),
    ("seven", ["7"], False, 0.0),  # SQuAD's normalization keeps number words (the containment grade does not)
    ("", ["x"], False, 0.0),
])
def test_exact_match_and_token_f1(answer, golds, em, f1):
    assert exact_match(answer, golds) is em
    assert token_f1(answer, golds) == pytest.approx(f1)


def test_squad_normalization_deletes_punctuation_inside_words():
    assert squad_normalize("O'Neil's  A boat!") == "oneils boat"


# --- the strict question reader -------------------------------------------------------

BAD_FILES = [
    ("bad JSON", '{"question": "A?", "answer": "b"}\n{"question": \n', r"q\.jsonl, line 2: not valid JSON"),
    ("not an object", '{"question": "A?", "answer": "b"}\n["A?", "b"]\n',
     r"q\.jsonl, line 2: expected a JSON object with a 'question' and an 'answer', got a list"),
    ("missing answer", '{"question": "A?"}\n', r"q\.jsonl, line 1: needs a 'question' and an 'answer' \(or 'answers'\); it has no 'answer'"),
    ("missing question, a near miss", '{"qustion": "A?", "answer": "b"}\n',
     r"line 1: needs a 'question' and an 'answer' \(or 'answers'\); it has no 'question' \(did you mean 'qustion'\?\)"),
    ("question not a string", '{"question": 7, "answer": "b"}\n', r"line 1: field 'question': expected a non-empty string, got a number \(7\)"),
    ("empty question", '{"question": "  ", "answer": "b"}\n', r"line 1: field 'question': expected a non-empty string, got an empty string"),
    ("answer a list", '{"question": "A?", "answer": ["b"]}\n', r"line 1: field 'answer': expected a string or a number, got a list"),
    ("answer a boolean", '{"question": "A?", "answer": true}\n', r"line 1: field 'answer': expected a string or a number, got a boolean"),
    ("answer null", '\n\n{"question": "A?", "answer": null}\n', r"line 3: field 'answer': expected a string or a number, got null"),
    ("answers a string", '{"question": "A?", "answers": "b"}\n', r"line 1: field 'answers': expected a non-empty list of strings"),
    ("answers empty", '{"question": "A?", "answers": []}\n', r"line 1: field 'answers': expected a non-empty list"),
    ("an alias of the wrong type", '{"question": "A?", "answers": ["b", {"x": 1}]}\n',
     r"line 1: field 'answers\[1\]': expected a string or a number, got an object"),
    ("an answer nothing can match", '{"question": "A?", "answer": "The."}\n', r"line 1: field 'answer': 'The\.' is empty once normalized"),
    ("id a float", '{"question": "A?", "answer": "b", "id": 1.5}\n', r"line 1: field 'id': expected a non-empty string or an integer"),
    ("a duplicate id", '{"question": "A?", "answer": "b", "id": "x"}\n{"question": "C?", "answer": "d", "id": "x"}\n',
     r"line 2: field 'id': 'x' is already the id of line 1"),
    ("context a list", '{"question": "A?", "answer": "b", "context": ["doc"]}\n', r"line 1: field 'context': expected a string or null"),
    ("an extra field that is a list", '{"question": "A?", "answer": "b", "tags": ["x"]}\n', r"line 1: field 'tags': expected a string, number"),
    ("an extra field named like a grade", '{"question": "A?", "answer": "b", "correct": true}\n',
     r"line 1: field 'correct': the evaluation writes a column of that name"),
    ("empty", "\n\n", r"q\.jsonl: no questions in it"),
]


@pytest.mark.parametrize("name, content, message", BAD_FILES, ids=[c[0] for c in BAD_FILES])
def test_the_question_reader_names_the_file_line_and_field(tmp_path, name, content, message):
    path = tmp_path / "q.jsonl"
    path.write_text(content)
    with pytest.raises(InputFileError, match=message):
        read_questions(path)


def test_the_question_reader_refuses_a_file_that_is_not_utf8(tmp_path):
    path = tmp_path / "q.jsonl"
    path.write_bytes(b'{"question": "A\xff?", "answer": "b"}\n')
    with pytest.raises(InputFileError, match=r"q\.jsonl: not UTF-8 text"):
        read_questions(path)


def test_the_question_reader_keeps_numbers_aliases_ids_and_extra_columns(tmp_path):
    path = tmp_path / "q.jsonl"
    rows = [{"question": "When?", "answer": 1742, "answers": ["1742", "the year 1742"], "id": 9, "category": "dates"},
            {"question": "Who?", "answers": ["Ostra Quill"], "context": None}]
    path.write_text("\ufeff" + "".join(json.dumps(r) + "\n" for r in rows))  # a byte-order mark is fine
    first, second = read_questions(path)
    assert (first.id, first.answers, first.meta) == ("9", ["1742", "the year 1742"], {"category": "dates"})
    assert (second.id, second.answers, second.context) == ("2", ["Ostra Quill"], None)
