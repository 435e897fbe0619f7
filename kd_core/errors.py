"""User-facing errors: one clear line that names the file, field or option at fault.

Code that can fail because of what a person gave it raises `KDError`; the CLI prints
its message as one line and exits non-zero, the UI shows it as a message.  Anything
else is a bug and keeps its traceback.
"""


class KDError(Exception):
    """An error caused by the user's input or environment, with a readable message."""


class ModelLoadError(KDError):
    """A model, adapter or tokenizer could not be loaded as asked."""


class InputFileError(KDError):
    """A data file (prompts, documents, questions) is unreadable or malformed."""
