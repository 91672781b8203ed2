"""Rule merge: every shard's final state -> contrastive.jsonl (one record per id) + stats."""

import json
from pathlib import Path

from contrastgen.records import made_by
from contrastgen.rulekit import run_started, setup_rule_logging
from contrastgen.stages.merge import merge
from contrastgen.stages.merge_stats import stage_seconds

setup_rule_logging(snakemake)
merge(
    list(snakemake.input.states),
    list(snakemake.input.candidates),
    snakemake.input.rejected,
    snakemake.output.records,
    snakemake.output.stats,
    snakemake.params.max_rounds,
    stage_seconds(snakemake.params.stage_benchmarks),
    run_started(snakemake.params.run_marker),
    json.loads(Path(snakemake.input.ingest_summary).read_text()),
    made=made_by(**snakemake.params.made_by),
    judged=json.loads(Path(snakemake.input.judged).read_text()),
)
