"""TuneShift-KD: perplexity-gap scoring, prompt generators, the expansion loop, the prompt
pool and its export, and the recipe pipeline with its report.
"""
