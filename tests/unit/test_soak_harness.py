"""The soak harness reads only what a fault's own run wrote (issue 36): a log line an
earlier fault left behind is not the outcome of a later one."""

import soak


def _faulted(tmp_path):
    harness = soak.Soak(tmp_path, items=4, seed=13, port=0)
    harness.workdir = tmp_path / "faulted"
    return harness


def test_a_stale_is_gone_line_from_an_earlier_fault_is_not_read_as_this_faults(tmp_path):
    harness = _faulted(tmp_path)
    # An earlier kill_snakemake ended this refine job as designed; no rerun reached it again.
    stale = harness.workdir / "logs/refine/round1/000.log"
    stale.parent.mkdir(parents=True)
    stale.write_text("refine 000: the engine is gone; stopping\n")
    out = tmp_path / "run002.out"
    out.write_text("Building DAG of jobs...\n")
    harness.mark = soak.LogMark([*harness.log_files(), out])
    assert "is gone" not in harness.log_text()
    # The later run's own jobs write their logs: still nothing of the earlier fault.
    fresh = harness.workdir / "logs/generate/round0/001.log"
    fresh.parent.mkdir(parents=True)
    fresh.write_text("generate 001: 12 items\n")
    with out.open("a") as fh:
        fh.write("Finished job 3.\n")
    assert "is gone" not in harness.log_text()
    assert harness.mark.new_text(out) == "Finished job 3.\n"
    # A job of this run that does stop is seen, in a new log or appended to an old one.
    with stale.open("a") as fh:
        fh.write("refine 000: the engine is gone; stopping\n")
    assert harness.log_text().count("is gone") == 1


def test_a_log_rewritten_from_its_start_is_read_whole(tmp_path):
    harness = _faulted(tmp_path)
    log = harness.workdir / "logs/validate/round0/000.log"
    log.parent.mkdir(parents=True)
    log.write_text("validate 000: started\n" * 3)
    harness.mark = soak.LogMark(harness.log_files())
    # The rerun's job writes the same path anew, longer than before: all of it is new.
    log.write_text("Traceback (most recent call last):\n" + "x\n" * 50)
    assert harness.log_text().startswith("Traceback")
    # Rewritten in place with the same first lines and more after: all of it is new.
    harness.mark = soak.LogMark(harness.log_files())
    log.write_text("Traceback (most recent call last):\n" + "y\n" * 60)
    assert harness.log_text().count("y\n") == 60
    # Replaced by a new, shorter file: read whole.
    log.unlink()
    log.write_text("is gone\n")
    assert harness.log_text() == "is gone\n"
