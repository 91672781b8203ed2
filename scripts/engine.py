"""Rule engine: the shared vLLM engine of one replica for one round's generation jobs.

A shell rule's command, not a `script:`: Snakemake ends a service job by signalling the
process of its shell command once the clients are done, and it can only do that for a
shell command. Its settings come from the environment (shared_engine.ENGINE_SETTINGS_ENV).
"""

import argparse

from contrastgen.backends.shared_engine import ReplicaService
from contrastgen.rulekit import setup_job_logging

parser = argparse.ArgumentParser(description=__doc__)
parser.add_argument("--service", required=True, help="the service file the clients read")
parser.add_argument("--registry", required=True, help="the replica's running engine")
parser.add_argument("--replica", type=int, required=True)
parser.add_argument("--last-round", action="store_true", help="stop the engine at the end")
parser.add_argument("--threads", type=int, required=True)
parser.add_argument("--gpus", type=int, required=True)
parser.add_argument("--log", required=True)
args = parser.parse_args()

service = ReplicaService(args.service, args.registry, args.last_round)
setup_job_logging(args.log, "engine", on_workflow_gone=service.end)
service.run(args.replica, args.log, args.threads, args.gpus)
