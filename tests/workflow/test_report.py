"""`snakemake --report` opened in a real headless Chromium (Debian's), not parsed as text."""

import json
import shutil

import pytest

from .helpers import snakemake

pytestmark = [pytest.mark.browser, pytest.mark.e2e]

CHROMIUM = shutil.which("chromium")
# Flags for a closed network: no background fetches, no sandbox as root.
CHROMIUM_ARGS = [
    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip


@pytest.fixture(scope="module")
def report(e2e_run):
    import yaml

    work, _ = e2e_run
    config = yaml.safe_load((work / "config.yaml").read_text())
    # No --cores: what a user types after a run.
    snakemake(work, config, "--report", str(work / "report.html"),
              env={"CONTRASTGEN_GPU_IDS": "0,1"})  # fmt: skip
    return work, work / "report.html"


def open_result(page, category: str, label: str):
    page.get_by_text(category, exact=True).click()
    page.locator("tr", has_text=label).locator("a[iconname=eye]").click()


@pytest.mark.skipif(CHROMIUM is None, reason="no chromium: apt-get install chromium")
def test_report_renders_stats_plots_and_samples_in_chromium(report, tmp_path):
    pytest.importorskip("playwright", reason="pip install playwright (the dev extra)")
    from playwright.sync_api import sync_playwright

    work, html = report
    stats = json.loads((work / "results/stats.json").read_text())
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            page.goto(html.as_uri())
            assert "Contrastive positives and hard negatives" in page.inner_text("body")

            open_result(page, "1. Run", "statistics")
            page.wait_for_function("document.querySelectorAll('iframe').length > 0")
            frame = next(f for f in page.frames if "stats.html" in f.url)
            frame.wait_for_selector("#stats")
            shown = {
                row.query_selector("th").inner_text(): row.query_selector("td").inner_text()
                for row in frame.query_selector_all("#stats tr")
            }
            for key in ("ingested", "complete", "partial", "failed", "complete_share",
                        "generated_items", "cache_hits"):  # fmt: skip
                assert shown[key] == str(stats[key]), key
            page.screenshot(path=tmp_path / "report-stats.png")

            page.locator("a", has_text="Results").first.click()
            open_result(page, "1. Run", "acceptance per round")
            img = page.locator("img[src^='data:image/png']").first
            img.wait_for()
            width = img.evaluate("i => i.complete ? i.naturalWidth : 0")
            assert width > 300, "the acceptance plot is rendered"
            page.screenshot(path=tmp_path / "report-acceptance.png")
        finally:
            browser.close()
    assert (tmp_path / "report-stats.png").stat().st_size > 10_000
