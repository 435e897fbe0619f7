"""Coverage for any question set (kd_core/evaluation/coverage.py): a held-out question is
carried by a training pair whose answer states its gold answer and which names what the
question asks about."""

from __future__ import annotations

import json

from kd_core.evaluation.coverage import AnswerCoverage, words
from kd_core.evaluation.questions import QAItem, question_set

QUESTIONS = [
    QAItem("q1", "Which river flows through Tamsk?", ["the Olva", "Olva"]),
    QAItem("q2", "In what year did Mirela Sond found the Glass Guild?", ["1187"]),
    QAItem("q3", "What colour is the sky over the northern marshes?", ["violet"]),
]


def test_a_pair_carries_a_question_when_its_answer_states_the_gold_answer_and_it_names_the_subject():
    cov = AnswerCoverage(QUESTIONS)
    assert cov.total == 3
    assert cov.stated("Tell me about Tamsk.", "The Olva flows through Tamsk and into the sea.") == {"q1"}
    assert cov.stated("Who founded the Glass Guild?", "Mirela Sond founded it in 1187.") == {"q2"}
    # The name may be in the prompt only; the gold answer must be in the answer.
    assert cov.stated("What is the river of Tamsk?", "It is the Olva.") == {"q1"}
    assert cov.stated("Tamsk and the Olva", "A quiet town.") == set()
    # Without a capitalized name, the question's longer words name its subject.
    assert cov.stated("Describe the northern marshes.", "The sky there is violet at dusk.") == {"q3"}


def test_an_answer_without_the_subject_or_with_the_gold_answer_only_inside_a_word_carries_nothing():
    cov = AnswerCoverage(QUESTIONS)
    assert cov.stated("Which river is the longest?", "The Olva is.") == set()  # the river, but not Tamsk's
    assert cov.stated("Tell me about Tamsk.", "Tamsk lies on the Olvara.") == set()  # Olva only inside a word
    assert cov.stated("When did the Glass Guild begin?", "In 11870 by the new count.") == set()


def test_words_keep_inner_apostrophes_and_hyphens_and_ignore_case():
    assert words("Ser Aldo's North-Gate, 1187!") == ["ser", "aldo's", "north-gate", "1187"]


def test_a_users_question_file_gives_a_coverage_with_its_ids(tmp_path):
    path = tmp_path / "qa.jsonl"
    path.write_text("".join(json.dumps({"id": it.id, "question": it.question, "answers": it.answers}) + "\n" for it in QUESTIONS))
    cov = AnswerCoverage(question_set(str(path)))
    assert cov.key == "id" and cov.total == 3
    assert cov.stated("Tamsk?", "The Olva.") == {"q1"}
