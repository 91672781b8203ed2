"""The short soak inside `make test`: one fault of each kind, at random times, on a real
run through a real vLLM server; `make soak` is the long one (tests/soak.py)."""

import pytest
import soak
from vllm_servers import free_port

pytestmark = pytest.mark.e2e


def test_one_fault_of_each_kind_loses_nothing(tmp_path, generator_dir, vllm_python):
    run = soak.Soak(tmp_path, items=16, seed=3, port=free_port())
    report = run.run(faults=len(soak.KINDS), min_delay_s=5, max_delay_s=20)
    kinds = {fault.kind for fault in report.faults}
    assert kinds == set(soak.KINDS) - set(report.skipped_kinds), report.summary()
    assert report.lost == []
    # Every record is the reference run's, or its item was generated again after a
    # fault and the model answered otherwise (counted, never silently different).
    assert report.identical_records + len(report.regenerated_differently) == 16
