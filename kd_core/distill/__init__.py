"""Prompt distillation: questions from documents, teacher answers with the document in the
prompt, KD training of a LoRA student without it.
"""
