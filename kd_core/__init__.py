"""KD Studio core: everything but the UI. Importable without gradio."""

import logging
import os

# Nothing at run time reaches the network unless the user asks for it: the hub is
# offline by default (HF_HUB_OFFLINE=0 turns downloads back on), and these variables
# must be set before huggingface_hub is first imported.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

__version__ = "0.1.0"


class _NoHubKernelNotice(logging.Filter):
    """bitsandbytes, imported on a CPU with AVX-512 bf16 (peft imports it whenever it is
    installed), tries to fetch a faster 4-bit CPU kernel from the Hub's kernels-community
    through the `kernels` package (a dependency of transformers since 5.25), and the two
    log why they cannot: `kernels` that offline mode skips the publisher check,
    bitsandbytes that the load failed.  KD Studio does not reach the network at run time,
    so that fetch never applies here; bitsandbytes' own CPU kernel is used.  Only records
    about kernels-community are dropped: the two libraries' other warnings still reach
    stderr."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "kernels-community" not in record.getMessage()


for _name in ("bitsandbytes.backends.cpu.ops", "kernels._internals.hf_hub"):  # a logger's filter sees only its own records
    logging.getLogger(_name).addFilter(_NoHubKernelNotice())
