"""KD Studio core: everything but the UI. Importable without gradio."""

import os

# Nothing at run time reaches the network unless the user asks for it: the hub is
# offline by default (HF_HUB_OFFLINE=0 turns downloads back on), and these variables
# must be set before huggingface_hub is first imported.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

__version__ = "0.1.0"
