"""Everything that knows the embedded demo: its models, its fictional world and fact
coverage, and how it was built.
"""
