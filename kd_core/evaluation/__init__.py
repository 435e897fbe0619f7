"""Question-answer evaluation: question sets, grading, and evaluation runs of a model (and
adapter) over them.
"""
