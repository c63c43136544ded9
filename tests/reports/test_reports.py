"""Reports: every page opens in headless Chromium without console errors or failed requests, every
chart draws, and the numbers on a page equal the warehouse's for the same query."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import duckdb
import pytest

from genz.report import reporting
from tests.workflow.test_pipeline import run_api

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


FRONTIER_MINI = """description: a small serving frontier
grid:
  model: [mistralai/Mixtral-8x7B-v0.1]
  hardware: [H100-SXM-80GB, MI300X]
  input_tokens: [1024]
  output_tokens: [256]
  precision: [{weight_dtype: fp8}]
frontier:
  enabled: true
  devices: 4
  concurrency: [1, 4, 16, 64, 256]
  interactivity: 40
"""


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    """The smoke pipeline run once; its reports and warehouse are shared by the tests here."""
    from tests.workflow.conftest import make_project

    project = make_project(tmp_path_factory.mktemp("rep") / "proj")
    # a requirement search in the tiny run too, so the requirements page has content
    spec = project / "experiments" / "smoke.yaml"
    spec.write_text(spec.read_text() + "requirements:\n  enabled: true\n")
    # and a small frontier sweep, so the frontier page has curves (a measured GPU and a prior)
    (project / "experiments" / "frontier-mini.yaml").write_text(FRONTIER_MINI)
    run_api(project)
    return project


def test_every_page_is_written_and_reasonably_small(built):
    out = built / "reports" / "all"
    for file, _ in reporting.PAGES:
        p = out / file
        assert p.exists(), file
        assert p.stat().st_size < 5_000_000, (file, p.stat().st_size)
        html = p.read_text()
        assert "http://" not in re.sub(r'xmlns[^"]*"http://[^"]*"', "", html.replace("http://www.w3.org", "")) or \
            "src=\"http" not in html  # nothing fetched from the network
        assert 'src="http' not in html and "href=\"http" not in html


def test_output_is_deterministic(built, tmp_path):
    db = built / "results" / "warehouse.duckdb"
    a = reporting.render(db, tmp_path / "a", templates=built / "reports" / "templates")
    b = reporting.render(db, tmp_path / "b", templates=built / "reports" / "templates")
    for x, y in zip(a, b):
        strip = lambda t: re.sub(r"generated \d{4}-\d\d-\d\d \d\d:\d\d UTC", "", t)  # noqa: E731
        assert strip(x.read_text()) == strip(y.read_text()), x.name


def test_numbers_on_the_page_match_the_warehouse(built):
    db = built / "results" / "warehouse.duckdb"
    con = duckdb.connect(str(db), read_only=True)
    try:
        want = con.execute("SELECT experiment, count(*) FROM scenarios GROUP BY ALL ORDER BY experiment").fetchall()
        head = con.execute("""SELECT use_case, model, round(min(usd_per_million_tokens), 3) FROM v_deployments
                              WHERE meets_slo AND measured GROUP BY use_case, model, framework
                              ORDER BY use_case, model, coalesce(framework, '-')""").fetchall()
    finally:
        con.close()
    html = (built / "reports" / "all" / "index.html").read_text()
    table = html.split('id="experiments"')[1].split("</table>")[0]
    for exp, n in want:
        assert re.search(rf"<td>{re.escape(exp)}</td><td class=\"num\" data-v=\"{n}\">", table), (exp, n)
    headline = html.split('id="headline"')[1].split("</table>")[0]
    rows = headline.split("<tr>")[2:]
    assert len(rows) == len(head)
    for (uc, model, cost), row in zip(head, rows):
        assert f"<td>{uc}</td>" in row and f"<td>{model}</td>" in row and f'data-v="{cost}"' in row, (uc, cost, row)


def _playwright():
    if CHROMIUM is None:
        pytest.skip("chromium is not installed (apt-get install chromium); .ci/run installs it")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:  # pragma: no cover
        pytest.skip("playwright is not installed (pip install -e '.[test]')")
    return sync_playwright


def _launch(p):
    return p.chromium.launch(executable_path=CHROMIUM, args=[
        "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--no-first-run", "--disable-sync", "--disable-quic"])


def _watched_page(browser, file: str, problems: list[str], console=("error",)):
    """A new page that appends its console messages of the given types and its page errors to
    ``problems`` (prefixed with ``file``)."""
    page = browser.new_page()
    page.on("console", lambda m: problems.append(f"{file}: console {m.type}: {m.text}")
            if m.type in console else None)
    page.on("pageerror", lambda e: problems.append(f"{file}: page error: {e}"))
    return page


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (apt-get install chromium); .ci/run installs it")
def test_pages_render_in_headless_chromium(built):
    sync_playwright = _playwright()
    out = built / "reports" / "all"
    problems: list[str] = []
    with sync_playwright() as p:
        browser = _launch(p)
        try:
            for file, _ in reporting.PAGES:
                page = _watched_page(browser, file, problems, console=("error", "warning"))
                page.on("requestfailed", lambda r, f=file: problems.append(f"{f}: failed request {r.url}"))
                page.on("request", lambda r, f=file: problems.append(f"{f}: network request {r.url}")
                        if not r.url.startswith(("file:", "data:", "blob:", "about:")) else None)
                page.goto((out / file).as_uri())
                charts = page.locator("div.chart")
                n = charts.count()
                if n:
                    page.wait_for_function(
                        f"document.querySelectorAll('div.chart svg').length >= {n}", timeout=30_000)
                drawn = page.locator("div.chart svg").count()
                if drawn < n:
                    problems.append(f"{file}: {drawn} of {n} charts drawn")
                if file != "index.html":
                    assert n >= 1 or "No requirement search" in page.content(), file
                page.close()
        finally:
            browser.close()
    assert not problems, "\n".join(problems)


#: the sort keys of one column of a table, and whether they are in order: numbers (a cell's data-v)
#: numerically and before text, text in natural order (what a reader expects of the page's sort)
_COLUMN_KEYS = """([t, col, dir]) => {
  const table = document.querySelectorAll("table.sortable")[t];
  const keys = Array.from(table.tBodies[0].rows).map((r) => {
    const c = r.cells[col], n = c.dataset.v === undefined ? NaN : Number(c.dataset.v);
    return isNaN(n) ? [1, c.textContent] : [0, n];
  });
  const cmp = (a, b) => a[0] !== b[0] ? a[0] - b[0]
    : a[0] === 0 ? a[1] - b[1] : a[1].localeCompare(b[1], undefined, {numeric: true});
  const ordered = keys.every((k, i) => i === 0 || dir * cmp(keys[i - 1], k) <= 0);
  const rows = Array.from(table.tBodies[0].rows).map((r) => r.textContent).sort();
  return {keys: keys, ordered: ordered, rows: rows};
}"""


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (apt-get install chromium); .ci/run installs it")
def test_every_table_sorts_in_headless_chromium(built):
    """Every table on every page: a header click sorts it by that column, a second click reverses it
    (headers of later tables too: the sort used one index across all the tables of a page)."""
    sync_playwright = _playwright()
    out = built / "reports" / "all"
    problems: list[str] = []
    tables = 0
    with sync_playwright() as p:
        browser = _launch(p)
        try:
            for file, _ in reporting.PAGES:
                page = _watched_page(browser, file, problems)
                page.goto((out / file).as_uri())
                located = page.locator("table.sortable")
                for t in range(located.count()):
                    table = located.nth(t)
                    name = f"{file} table {t} ({table.get_attribute('id') or 'no id'})"
                    heads = table.locator("thead th")
                    numeric = table.locator("tbody tr").first.locator("td").evaluate_all(
                        "(cs) => cs.map((c) => c.classList.contains('num'))") if table.locator("tbody tr").count() else []
                    # the first column, and the first numeric one (both kinds of key)
                    cols = sorted({0, *([numeric.index(True)] if True in numeric else [])})
                    for col in cols:
                        before = page.evaluate(_COLUMN_KEYS, [t, col, 1])
                        heads.nth(col).click()
                        asc = page.evaluate(_COLUMN_KEYS, [t, col, 1])
                        heads.nth(col).click()
                        desc = page.evaluate(_COLUMN_KEYS, [t, col, -1])
                        if not asc["ordered"]:
                            problems.append(f"{name}: column {col} not ascending after one click: {asc['keys'][:20]}")
                        if not desc["ordered"] or desc["keys"] != asc["keys"][::-1]:
                            problems.append(f"{name}: column {col} not reversed after two clicks: {desc['keys'][:20]}")
                        if not (before["rows"] == asc["rows"] == desc["rows"]):
                            problems.append(f"{name}: sorting column {col} changed the rows themselves")
                    tables += 1
                page.close()
        finally:
            browser.close()
    assert tables >= len(reporting.PAGES), tables
    assert not problems, "\n".join(problems)


def test_values_with_quotes_reach_the_pages(tmp_path):
    """Names from the warehouse go into the pages' queries as bound values: a model, use case and
    experiment with a quote in their name render like any other (they broke the SQL when pasted in)."""
    import polars as pl

    from genz.perf.profiles import PACKAGED, load_profiles
    from genz.pipeline.steps import estimate_frame
    from genz.store import warehouse
    from tests.unit.test_store import grid_rows

    rows = grid_rows("usecase-comparison", use_case="it's chat")
    shard = estimate_frame(rows, load_profiles(PACKAGED), "0123456789abcdef")
    shard = shard.with_columns(model_id=pl.lit("o'model/x"))
    shard.write_parquet(tmp_path / "e.parquet")
    db = tmp_path / "w.duckdb"
    warehouse.build(db, estimates=[tmp_path / "e.parquet"], operators=[], measurements=[], profiles=PACKAGED)
    pages = {p.name: p.read_text() for p in reporting.render(db, tmp_path / "out")}
    assert set(pages) == {file for file, _ in reporting.PAGES}
    assert "o&#39;model/x" in pages["usecases.html"]  # the slice picked the model with the quote
    assert "it&#39;s chat" in pages["usecases.html"]
    assert "usecase-comparison" in pages["index.html"]


def _specs(html: str) -> list[dict]:
    """The vega-lite specs a page embeds."""
    import json

    return [json.loads(m) for m in re.findall(r'vegaEmbed\("#chart-[0-9-]+", (\{.*?\}), \{renderer', html)]


def _data(spec) -> list[dict]:
    """Every datum of a spec (inline datasets, nested data values)."""
    out: list[dict] = []
    for rows in (spec.get("datasets") or {}).values():
        out.extend(rows)

    def walk(x):
        if isinstance(x, dict):
            if isinstance(x.get("values"), list):
                out.extend(v for v in x["values"] if isinstance(v, dict))
            for v in x.values():
                walk(v)
        elif isinstance(x, list):
            for v in x:
                walk(v)
    walk({k: v for k, v in spec.items() if k != "datasets"})
    return out


def test_no_chart_draws_an_unmeasured_platform_without_its_mark(built):
    """Every datum of an unmeasured platform (calibration label inherited or prior) in any chart carries
    measured = false and a non-empty mark (drawn faint, named in the tooltip)."""
    db = built / "results" / "warehouse.duckdb"
    con = duckdb.connect(str(db), read_only=True)
    try:
        unmeasured = {r[0] for r in con.execute(
            "SELECT platform FROM calibration WHERE framework = 'generic' AND label <> 'calibrated'").fetchall()}
    finally:
        con.close()
    assert unmeasured  # the smoke run has MI300X, a prior
    seen, problems = 0, []
    for file, _ in reporting.PAGES:
        html = (built / "reports" / "all" / file).read_text()
        for i, spec in enumerate(_specs(html)):
            for d in _data(spec):
                plat = d.get("hardware", d.get("platform"))
                if plat in unmeasured:
                    seen += 1
                    if d.get("measured") is not False or not d.get("mark"):
                        problems.append(f"{file} chart {i}: {plat} without its mark: {d}")
    assert seen, "no chart shows an unmeasured platform"
    assert not problems, "\n".join(problems[:10])


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (apt-get install chromium); .ci/run installs it")
def test_calibration_labels_visible_in_headless_chromium(built):
    """The index and platforms pages show each platform's calibration label, and the headline leads
    with measured platforms (its column says so)."""
    sync_playwright = _playwright()
    out = built / "reports" / "all"
    with sync_playwright() as p:
        browser = _launch(p)
        try:
            page = browser.new_page()
            page.goto((out / "index.html").as_uri())
            heads = page.locator("table#headline thead th").all_inner_texts()
            assert "cheapest_measured_platform" in heads and "calibration_label" in heads, heads
            assert "cheaper_unmeasured" in heads, heads
            profiles = page.locator("table#profiles").inner_text()
            assert "calibration_label" in profiles and "prior" in profiles, profiles[:500]
            page.goto((out / "platforms.html").as_uri())
            for tid in ("platform-best", "platform-calibration"):
                text = page.locator(f"table#{tid}").inner_text()
                assert "calibration_label" in text, tid
                assert any(lb in text for lb in ("calibrated", "inherited", "prior")), tid
            page.close()
        finally:
            browser.close()


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (apt-get install chromium); .ci/run installs it")
def test_frontier_page_draws_a_curve_per_gpu_with_bands_and_labels(built):
    """The frontier page opens without console errors, draws one curve per GPU (each the warehouse's
    frontier points, in interactivity order, with their 80 % band), and its table shows each GPU's
    calibration label and the numbers genz.requirements.frontier interpolates at the experiment's
    interactivity."""
    import polars as pl

    from genz.requirements.frontier import X, Y, at_interactivity

    db = built / "results" / "warehouse.duckdb"
    con = duckdb.connect(str(db), read_only=True)
    try:
        front = con.sql("SELECT * FROM v_frontier ORDER BY hardware_id, interactivity_tok_s_user").pl()
    finally:
        con.close()
    assert set(front.get_column("hardware_id").to_list()) == {"H100-SXM-80GB", "MI300X"}
    html = (built / "reports" / "all" / "frontier.html").read_text()
    specs = _specs(html)
    assert len(specs) == 1  # one model x workload x precision
    data = [d for d in _data(specs[0]) if "deployment" in d]
    for hw, grp in front.group_by(["hardware_id"]):
        drawn = sorted((d[X], d[Y], d[f"{Y}_low"], d[f"{Y}_high"]) for d in data if d["hardware"] == hw[0])
        want = sorted(zip(*(grp.get_column(c).round(3).to_list() for c in (X, Y, f"{Y}_low", f"{Y}_high"))))
        assert drawn == want, hw
    at = at_interactivity(front.with_columns(pl.col("hardware_id").alias("hardware")), 40.0)
    sync_playwright = _playwright()
    problems: list[str] = []
    with sync_playwright() as p:
        browser = _launch(p)
        try:
            page = _watched_page(browser, "frontier.html", problems, console=("error", "warning"))
            page.goto((built / "reports" / "all" / "frontier.html").as_uri())
            page.wait_for_function("document.querySelectorAll('div.chart svg').length >= 1", timeout=30_000)
            # a line (path) per GPU in the chart, and the band areas
            paths = page.locator("div.chart svg g.mark-line path").count()
            areas = page.locator("div.chart svg g.mark-area path").count()
            assert paths == 2 and areas == 2, (paths, areas)
            rows = page.locator("table#frontier-at-1 tbody tr").all_inner_texts()
            heads = page.locator("table#frontier-at-1 thead th").all_inner_texts()
            page.close()
        finally:
            browser.close()
    assert not problems, "\n".join(problems)
    assert heads[:4] == ["hardware", "calibration_label", "reach", "tok_s_per_gpu"], heads
    text = "\n".join(rows)
    for hw, label in front.select("hardware_id", "calibration_label").unique().iter_rows():
        assert f"{hw}\t{label}\t" in text, (hw, label, text)  # measured or assumed, on every row
    for r in at.filter(pl.col(Y).is_not_null()).iter_rows(named=True):
        assert f'data-v="{round(r[Y], 3)}"' in html, r
