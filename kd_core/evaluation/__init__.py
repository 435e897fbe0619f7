"""Question-answer evaluation: question sets (`questions`: the one strict reader of question
files), grading (`grading`: containment, SQuAD exact match and token F1), evaluation runs of
a model and adapter over a set (`qa`), and the figures' uncertainty (`stats`: Wilson
intervals, McNemar's exact test).
"""
