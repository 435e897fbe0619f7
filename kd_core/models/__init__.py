"""Models: specs and loading (hub id, folder, GGUF, adapters, 4-bit), every device/dtype
choice, batched generation, pre-flight memory estimates, side-by-side chat.
"""
