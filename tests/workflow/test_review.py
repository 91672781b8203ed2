"""`contrastgen review` over a real finished run, driven in a real headless Chromium
(Debian's): labels by keyboard, kept across a reload, and a rerun that measures the
validator on them in stats.json and the dataset card."""

import json
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from .helpers import snakemake
from .test_report import CHROMIUM, CHROMIUM_ARGS

pytestmark = [pytest.mark.browser, pytest.mark.e2e]
CONTRASTGEN = Path(sys.executable).parent / "contrastgen"


def start_review(run: Path, labels: Path, *extra: str) -> tuple[subprocess.Popen, str]:
    proc = subprocess.Popen(
        [str(CONTRASTGEN), "review", str(run), "--labels", str(labels), "--port", "0",
         "--size", "20", "--by", "tester", *extra],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    first = proc.stdout.readline()
    assert first.startswith("review: http://127.0.0.1:"), first + proc.stderr.read()
    assert "listening on 127.0.0.1 only" in proc.stdout.readline()
    return proc, first.split()[1]


def labelled(page) -> dict[str, bool]:
    return page.evaluate(
        "Object.fromEntries(state.pairs.filter(p => p.label !== null).map(p => [p.key, p.label]))"
    )


@pytest.mark.skipif(CHROMIUM is None, reason="no chromium: apt-get install chromium")
def test_label_ten_pairs_by_keyboard_reload_and_a_run_measures_the_validator_on_them(
    e2e_run, tmp_path, embedder
):
    pytest.importorskip("playwright", reason="pip install playwright (the dev extra)")
    from config_defaults import THRESHOLDS
    from playwright.sync_api import sync_playwright

    from contrastgen.validation import judged
    from contrastgen.validation.validator import decide

    run = tmp_path / "run"
    shutil.copytree(e2e_run[0], run, symlinks=True)
    labels = tmp_path / "labels" / "mine.jsonl"
    server, url = start_review(run, labels)
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1400, "height": 820})
            page.goto(url)
            page.wait_for_selector("body[data-ready='1']")
            given = {}
            for i, key in enumerate("1f2c1f2"):  # both keys of each label
                shown = page.get_attribute("#pair", "data-key")
                if i == 6:  # a note typed before the label goes with it
                    page.keyboard.press("n")
                    page.keyboard.type("checked twice")
                    page.keyboard.press("Escape")
                page.keyboard.press(key)
                given[shown] = key in "1f"
                page.wait_for_function(f"document.querySelector('#pair').dataset.key !== '{shown}'")
            # typed fast, each label goes to the pair it was typed on
            order = page.evaluate("state.pairs.map(p => p.key)")
            at = order.index(page.get_attribute("#pair", "data-key"))
            page.keyboard.press("1")
            page.keyboard.press("2")
            given[order[at]], given[order[at + 1]] = True, False
            # a click, then Space: the button lets go of the focus, Space labels nothing
            given[order[at + 2]] = True
            page.click("#good")
            page.keyboard.press(" ")
            page.wait_for_function(
                "document.querySelector('#saved').textContent.startsWith('saved (10 labels')"
            )
            assert labelled(page) == given
            assert page.inner_text("#progress") == "10 of 20 labelled"
            assert page.locator("#figures tbody tr").count() >= 2
            shown_figures = page.evaluate("state.figures")
            page.reload()
            page.wait_for_selector("body[data-ready='1']")
            assert labelled(page) == given  # kept, read back from the file
            assert page.inner_text("#progress") == "10 of 20 labelled"
            assert page.locator("#strip span.yes, #strip span.no").count() == 10
            browser.close()
        second = subprocess.run(
            [str(CONTRASTGEN), "review", str(run), "--labels", str(labels), "--port", "0"],
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert second.returncode == 2 and second.stdout == ""
        assert second.stderr.count("\n") == 1 and "already open in another review page" in (
            second.stderr
        )
    finally:
        server.send_signal(signal.SIGTERM)
        assert server.wait(timeout=30) == 0

    rows = judged.read_labels(labels)
    assert len(rows) == 10 and {r.by for r in rows} == {"tester"}
    assert [r.note for r in rows if r.note] == ["checked twice"]

    config = yaml.safe_load((run / "config.yaml").read_text())
    config["validator"]["judged"] = ["bundled", str(labels)]
    proc = snakemake(run, config, "--cores", "2", env={"CONTRASTGEN_GPU_IDS": "0,1"})
    assert "rule generate" not in proc.output and "rule validate" not in proc.output
    stats = json.loads((run / "results/stats.json").read_text())
    bundled, mine = stats["judged_sets"]
    assert bundled["name"] == "bundled"
    assert (mine["name"], mine["by"], mine["pairs"]) == (str(labels), "tester", 10)
    # the figures are the run's validator on these ten labels, nothing else
    sims = embedder.similarities([(r.original, r.candidate) for r in rows])
    verdict = {
        id(r): decide(r.original, r.candidate, r.kind, s, THRESHOLDS).valid
        for r, s in zip(rows, sims, strict=True)
    }
    for origin, by_kind in mine["per_origin"].items():
        expected = judged.score([r for r in rows if r.origin == origin], lambda r: verdict[id(r)])
        assert by_kind == expected
    # the page (the run's recorded decisions) and the rerun (decided again) agree
    on_page = {(f"review {f['origin']}", f["kind"]): f for f in shown_figures}
    in_stats = {(o, k): s for o, by_kind in mine["per_origin"].items() for k, s in by_kind.items()}
    assert set(on_page) == set(in_stats)
    for key, s in in_stats.items():
        assert {k: on_page[key][k] for k in s} == s, key
    card = (run / "results/README.md").read_text()
    assert f"### {labels}: 10 pairs labelled by tester" in card
    (origin, kind), s = next(iter(in_stats.items()))
    recall = "-" if s["faithful_accepted"] is None else f"{s['faithful_accepted']:.1%}"
    assert f"| {kind} | {origin} | {s['pairs']} | {recall}" in card
