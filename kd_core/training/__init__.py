"""LoRA training on transformers.Trainer (SFT, KD, mix losses) and merging an adapter into
a 16-bit copy of its base.
"""
