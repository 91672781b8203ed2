# Contrastive paraphrases and hard negatives for UAV navigation instructions.
# Stages: prepare models -> ingest -> generate (round 0) -> validate -> refine rounds
# -> merge. See docs/ARCHITECTURE.md.
from snakemake.utils import min_version
from snakemake.utils import validate as check_against_schema

from contrastgen import go_offline

min_version("9.0")

# Never reach for a model hub at run time: every model is a local directory.
go_offline()


configfile: "config.yaml"


report: "workflow/report/workflow.rst"


check_against_schema(config, "workflow/schemas/config.schema.yaml")


include: "workflow/rules/common.smk"
include: "workflow/rules/models.smk"
include: "workflow/rules/ingest.smk"
include: "workflow/rules/mine.smk"
include: "workflow/rules/engine.smk"
include: "workflow/rules/generate.smk"
include: "workflow/rules/validate.smk"
include: "workflow/rules/judged_precision.smk"
include: "workflow/rules/merge.smk"
include: "workflow/rules/benchmark.smk"
include: "workflow/rules/report.smk"


onstart:
    mark_run_started(RUN_MARKER)


onsuccess:
    stop_engines(ENGINE_REGISTRY_DIR)
    print_run_summary(STATS, gpus_per_replica(), RUN_MARKER, GPU_STAGES)


onerror:
    stop_engines(ENGINE_REGISTRY_DIR)


rule all:
    default_target: True
    input:
        final_outputs(),
