"""contrastgen: contrastive paraphrases and hard negatives for UAV navigation instructions."""

import os

__version__ = "0.1.0"

# Nothing is fetched from a model hub at run time: every model is a local directory.
# The one definition; entry points (the Snakefile, rule scripts, the CLI,
# the vLLM processes) apply it with go_offline() before transformers is imported.
OFFLINE_ENV = {
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "TOKENIZERS_PARALLELISM": "false",
}


def go_offline() -> None:
    """Set OFFLINE_ENV in this process (and what it starts), unless the user set it."""
    for key, value in OFFLINE_ENV.items():
        os.environ.setdefault(key, value)
