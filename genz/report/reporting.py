"""HTML reports rendered from the warehouse (read-only) with jinja2 and vega-lite.

Every page is built from SQL over the warehouse (aggregated there, so pages stay small) and
rendered by one template; charts are vega-lite specs (altair) drawn by the Vega JavaScript bundle,
which is inlined into each page, so a page works from ``file://`` with no network. Templates only
loop and format. The output is deterministic: the same warehouse gives the same bytes, apart from
the generated-at line. Values reach SQL as bound parameters (``$name``), identifiers through
:func:`genz.store.sqlgen.quote_ident`.
"""

from __future__ import annotations

import datetime as _dt
import functools
import json
from dataclasses import dataclass, field
from pathlib import Path

import jinja2
import polars as pl

from .._version import __version__
from ..catalog.files import atomic_write_text
from ..store.sqlgen import quote_ident
from ..store.warehouse import connect

TEMPLATES = Path(__file__).parents[2] / "reports" / "templates"
REFERENCE_MODEL = "meta-llama/Llama-3.1-70B"
REFERENCE_HW = "H100-SXM-80GB"

PAGES = [
    ("index.html", "Index"),
    ("usecases.html", "Use cases"),
    ("models.html", "Models"),
    ("platforms.html", "Platforms"),
    ("requirements.html", "Requirements"),
    ("bottlenecks.html", "Bottlenecks"),
    ("parallelism.html", "Parallelism"),
    ("frontier.html", "Frontier"),
    ("calibration.html", "Calibration"),
]


@dataclass
class Table:
    """A sortable table: column headers, rows of cells, optional id (for tests and links)."""

    columns: list[str]
    rows: list[list]
    id: str = ""
    caption: str = ""


@dataclass
class Section:
    title: str
    text: str = ""
    charts: list[dict] = field(default_factory=list)  # vega-lite specs
    tables: list[Table] = field(default_factory=list)


@dataclass
class Page:
    file: str
    title: str
    lead: str
    sections: list[Section]


# ----------------------------------------------------------------------------------------------
# helpers
# ----------------------------------------------------------------------------------------------


def fmt_num(v, digits: int = 3) -> str:
    """Human formatting of a number (thousands separators, significant digits)."""
    if v is None:
        return "–"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, int):
        return f"{v:,}"
    try:
        x = float(v)
    except (TypeError, ValueError):
        return str(v)
    if x != x:
        return "–"
    if x in (float("inf"), float("-inf")):
        return "∞" if x > 0 else "-∞"
    a = abs(x)
    if a >= 1000:
        return f"{x:,.0f}"
    if a >= 1:
        return f"{x:.{max(digits - len(str(int(a))), 0)}f}"
    if a == 0:
        return "0"
    return f"{x:.{digits}g}"


def _q(con, sql: str, params: dict | None = None) -> pl.DataFrame:
    """A query as a polars frame; values are bound from ``params`` (``$name`` placeholders), never
    formatted into ``sql``."""
    return con.sql(sql, params=params or None).pl()


def table(df: pl.DataFrame, id: str = "", caption: str = "", limit: int = 500) -> Table:
    """A frame as a report table (first ``limit`` rows)."""
    return Table(columns=list(df.columns), rows=[list(r) for r in df.head(limit).iter_rows()], id=id,
                 caption=caption)


def _vl(chart) -> dict:
    """An altair chart as a vega-lite spec with deterministic key order."""
    return json.loads(json.dumps(chart.to_dict(), sort_keys=True, default=str))


def _alt():
    import altair as alt

    alt.data_transformers.disable_max_rows()
    return alt


@functools.lru_cache(maxsize=1)
def vega_bundle() -> str:
    """Vega + Vega-Lite + vega-embed as one script (inlined into every page; no network)."""
    import vl_convert as vlc

    return vlc.javascript_bundle().replace("</script", "<\\/script")  # type: ignore[call-arg]


def _pick(con, column: str, where: str, params: dict, preferred: str) -> str:
    """``preferred`` if the slice (``where`` with its bound ``params``) has it, else the most
    frequent value (pages adapt to any run)."""
    col = quote_ident(column)
    vals = _q(con, f"""SELECT {col} AS v, count(*) AS n FROM v_estimates WHERE {where} AND status = 'ok'
                      AND {col} IS NOT NULL GROUP BY ALL ORDER BY n DESC, v""", params)
    if vals.height == 0:
        return preferred
    return preferred if preferred in vals.get_column("v").to_list() else vals.get_column("v")[0]


VENDOR_COLORS = {"NVIDIA": "#4c9a2a", "AMD": "#c53030", "Intel": "#2b6cb0", "Google": "#d69e2e"}


def platform_marks(con) -> pl.DataFrame:
    """Per platform: its calibration label class (calibrated / inherited / prior, from the reference
    stack's profile through the warehouse's ``calibration_class`` macro), ``measured``, the ``mark``
    a chart shows for an unmeasured platform ("" for a measured one), vendor and family."""
    from ..catalog.hardware import get_hardware

    cal = _q(con, """SELECT platform, coalesce(calibration_class(any_value(label) FILTER (WHERE framework = 'generic')),
                                               calibration_class(any_value(label))) AS calibration_label
                     FROM calibration GROUP BY platform ORDER BY platform""")
    rows = []
    for plat, label in cal.iter_rows():
        try:
            hw = get_hardware(plat)
            vendor, family = str(hw.vendor), str(hw.family)
        except Exception:  # noqa: BLE001 - a platform outside the catalog still gets its label
            vendor, family = "other", "other"
        rows.append({"platform": plat, "calibration_label": label or "prior", "measured": label == "calibrated",
                     "vendor": vendor, "family": family})
    return pl.DataFrame(rows, schema={"platform": pl.String, "calibration_label": pl.String, "measured": pl.Boolean,
                                      "vendor": pl.String, "family": pl.String})


def mark_platforms(con, df: pl.DataFrame, col: str = "hardware") -> pl.DataFrame:
    """``df`` with each platform's ``calibration_label``, ``measured``, ``mark`` (non-empty for an
    unmeasured platform: "unmeasured (prior)"), ``vendor`` and ``family``: every chart datum of an
    unmeasured platform carries its mark."""
    marks = platform_marks(con).rename({"platform": col})
    out = df.drop([c for c in ("calibration_label", "measured", "vendor", "family", "mark") if c in df.columns])
    out = out.join(marks, on=col, how="left", maintain_order="left")
    return out.with_columns(
        measured=pl.col("measured").fill_null(False),
        calibration_label=pl.col("calibration_label").fill_null("prior"),
        vendor=pl.col("vendor").fill_null("other"), family=pl.col("family").fill_null("other"),
    ).with_columns(mark=pl.when(pl.col("measured")).then(pl.lit(""))
                   .otherwise(pl.format("unmeasured ({})", pl.col("calibration_label"))))


def _opacity(alt):
    """Unmeasured platforms drawn faint (the mark field also names them in tooltips)."""
    return alt.condition("datum.measured", alt.value(0.95), alt.value(0.35))


def _vendor_color(alt, title: str = "vendor"):
    return alt.Color("vendor:N", title=title, scale=alt.Scale(domain=list(VENDOR_COLORS) + ["other"],
                                                              range=list(VENDOR_COLORS.values()) + ["#718096"]))


def _experiments(con) -> set[str]:
    return set(_q(con, "SELECT DISTINCT experiment FROM scenarios").get_column("experiment").to_list())


def _slice(con, experiment: str, otherwise: str = "TRUE") -> tuple[str, dict]:
    """The rows a page shows: a filter on ``experiment`` (bound as ``$exp``) if the warehouse has
    that experiment, else the ``otherwise`` filter. Returns (SQL condition, its parameters)."""
    if experiment in _experiments(con):
        return "experiment = $exp", {"exp": experiment}
    return otherwise, {}


# ----------------------------------------------------------------------------------------------
# pages
# ----------------------------------------------------------------------------------------------


def index_page(con) -> Page:
    exps = _q(con, """
        SELECT s.experiment, count(*) AS scenarios, count(*) FILTER (WHERE e.status = 'ok') AS predicted,
               count(DISTINCT s.model_id) AS models, count(DISTINCT s.hardware_id) AS platforms
        FROM scenarios s JOIN estimates e USING (experiment, scenario_id)
        GROUP BY s.experiment ORDER BY s.experiment""")
    run = _q(con, "SELECT * FROM runs")
    cal = _q(con, """SELECT platform, calibration_class(label) AS calibration_label, label AS calibration, n_rows,
                            version FROM calibration
                     WHERE framework = 'generic' ORDER BY label <> 'calibrated', platform""")
    head = headline_findings(con)
    total = int(exps.get_column("scenarios").sum()) if exps.height else 0
    code = run.get_column("genz_fingerprint")[0] if "genz_fingerprint" in run.columns and run.height else "?"
    secs = [Section("Headline findings",
                    "For each use case, model and framework (platforms compared under the same framework): the "
                    "cheapest MEASURED platform (calibration label 'calibrated'; USD per million output tokens, over "
                    "the deployments searched) that meets the use case's SLO, and the resource that binds first "
                    "for that deployment (from the requirement search). An unmeasured platform (label 'inherited' "
                    "or 'prior': its numbers are its family's factors or priors, with wider bands) that would be "
                    "cheaper is shown apart, in the last column, never as the headline.",
                    tables=[table(head, id="headline")]),
            Section("Experiments", "", tables=[table(exps, id="experiments")]),
            Section("Calibration of each platform",
                    "calibrated: its own measurements fitted its hardware factors; inherited from X: not measured, "
                    "its architecture family's fitted factors; prior: kernel-timing priors or defaults. Profile "
                    "versions are content hashes of their inputs and of the code.",
                    tables=[table(cal, id="profiles")])]
    return Page("index.html", "genz results",
                f"{total:,} scenarios in {exps.height} experiments, estimated with genz {__version__} "
                f"(code {code}).", secs)


def headline_findings(con) -> pl.DataFrame:
    """Per use case x model x framework: the cheapest MEASURED platform meeting the SLO (cost, layout,
    binding resource, calibration label), and beside it, apart, an unmeasured platform that would be
    cheaper by its priors."""
    dep = _q(con, "SELECT count(*) AS n FROM deployments").item()
    if dep:
        return _q(con, """
            WITH ok AS (SELECT * FROM v_deployments WHERE meets_slo AND usd_per_million_tokens IS NOT NULL),
            best AS (
              SELECT use_case, model, framework, hardware, tp, pp, batch_size, usd_per_million_tokens, ttft_ms,
                     tpot_ms, calibration_label,
                     row_number() OVER (PARTITION BY use_case, model, framework
                                        ORDER BY usd_per_million_tokens, hardware) AS rn
              FROM ok WHERE measured),
            unm AS (SELECT use_case, model, framework, arg_min(hardware, usd_per_million_tokens) AS hardware,
                           min(usd_per_million_tokens) AS usd, arg_min(calibration_label, usd_per_million_tokens) AS label
                    FROM ok WHERE NOT measured GROUP BY ALL),
            bind AS (SELECT model, use_case, hardware, first(resource ORDER BY resource) AS binding_resource
                     FROM requirements WHERE binding GROUP BY ALL)
            SELECT b.use_case, b.model, coalesce(b.framework, '-') AS framework,
                   b.hardware AS cheapest_measured_platform, b.calibration_label, b.tp, b.pp, b.batch_size,
                   round(b.usd_per_million_tokens, 3) AS usd_per_million_tokens, round(b.ttft_ms, 1) AS ttft_ms,
                   round(b.tpot_ms, 2) AS tpot_ms, coalesce(bind.binding_resource, '-') AS binding_resource,
                   CASE WHEN u.usd < b.usd_per_million_tokens
                        THEN u.hardware || ' (unmeasured, ' || u.label || ': $' || round(u.usd, 3) || ')'
                        ELSE '-' END AS cheaper_unmeasured
            FROM best b LEFT JOIN bind USING (model, use_case, hardware)
            LEFT JOIN unm u ON u.use_case = b.use_case AND u.model = b.model
                 AND u.framework IS NOT DISTINCT FROM b.framework
            WHERE rn = 1 ORDER BY b.use_case, b.model, framework""")
    return _q(con, """
        SELECT use_case, model_id AS model, coalesce(framework, '-') AS framework,
               hardware_id AS cheapest_measured_platform, calibration_label, tp, pp, batch_size,
               round(usd_per_million_tokens, 3) AS usd_per_million_tokens, round(ttft_ms, 1) AS ttft_ms,
               round(tpot_ms, 2) AS tpot_ms, '-' AS binding_resource,
               CASE WHEN cheaper_unmeasured_hardware_id IS NOT NULL
                    THEN cheaper_unmeasured_hardware_id || ' (unmeasured, ' || cheaper_unmeasured_calibration_label
                         || ': $' || round(cheaper_unmeasured_usd_per_million_tokens, 3) || ')'
                    ELSE '-' END AS cheaper_unmeasured
        FROM v_cheapest_measured WHERE use_case IS NOT NULL
        ORDER BY use_case, model, framework""")


def usecases_page(con) -> Page:
    alt = _alt()
    where, params = _slice(con, "usecase-comparison", otherwise="use_case IS NOT NULL")
    model = _pick(con, "model_id", where, params, REFERENCE_MODEL)
    params = {**params, "model": model}
    pts = _q(con, f"""
        SELECT use_case, hardware_id AS hardware, tp, batch_size, round(ttft_ms, 3) AS ttft_ms,
               round(batch_size * 1000.0 / tpot_ms / num_devices, 3) AS decode_tok_s_per_device,
               slo_ttft_ms, slo_tpot_ms, meets_slo
        FROM v_slo
        WHERE {where} AND model_id = $model AND weight_dtype = 'bf16'
              AND coalesce(framework, 'vllm') ILIKE 'vllm%'
        ORDER BY use_case, hardware, tp, batch_size""", params)
    secs = []
    if pts.height:
        pts = mark_platforms(con, pts)
        base = alt.Chart(pts).encode(
            x=alt.X("ttft_ms:Q", scale=alt.Scale(type="log"), title="TTFT (ms, log)"),
            y=alt.Y("decode_tok_s_per_device:Q", scale=alt.Scale(type="log"),
                    title="decode throughput (tokens/s per device, log)"))
        points = base.mark_point(filled=True, opacity=0.7).encode(
            color=alt.Color("hardware:N", title="platform"), shape=alt.Shape("meets_slo:N", title="meets SLO"),
            opacity=_opacity(alt),
            tooltip=["use_case", "hardware", "calibration_label", "mark", "tp", "batch_size", "ttft_ms",
                     "decode_tok_s_per_device"])
        rule = alt.Chart(pts).mark_rule(color="#c53030", strokeDash=[4, 3]).encode(x="mean(slo_ttft_ms):Q")
        ch = alt.layer(points, rule).properties(width=230, height=180).facet(
            facet=alt.Facet("use_case:N", title=None), columns=3)
        secs.append(Section(
            "TTFT vs decode throughput",
            f"{model}, bf16, vLLM, every platform, TP 1–8 and batch 1–256. The dashed line is the use "
            "case's TTFT bound; filled markers meet both TTFT and TPOT bounds.", charts=[_vl(ch)]))
        bars = _q(con, f"""
            SELECT use_case, hardware_id AS hardware, round(min(ttft_ms), 2) AS ttft_ms,
                   round(min(tpot_ms), 3) AS tpot_ms, round(min(e2e_latency_ms), 1) AS e2e_latency_ms
            FROM v_slo WHERE {where} AND model_id = $model AND batch_size = 1 AND weight_dtype = 'bf16'
            GROUP BY ALL ORDER BY use_case, hardware""", params)
        long = mark_platforms(con, bars.unpivot(index=["use_case", "hardware"], variable_name="metric",
                                                value_name="ms"))
        ch2 = alt.Chart(long).mark_bar().encode(
            x=alt.X("hardware:N", title=None), y=alt.Y("ms:Q", title="latency (ms)"),
            color=_vendor_color(alt), opacity=_opacity(alt),
            tooltip=["use_case", "hardware", "calibration_label", "mark", "metric", "ms"]
        ).properties(width=200, height=140).facet(row=alt.Row("metric:N", title=None),
                                                  column=alt.Column("use_case:N", title=None)
                                                  ).resolve_scale(y="independent")
        secs.append(Section("TTFT, TPOT and end-to-end latency at batch 1",
                            "Best layout per platform (lowest latency over TP), coloured by vendor; unmeasured "
                            "platforms (calibration label inherited or prior) faint.", charts=[_vl(ch2)],
                            tables=[table(mark_platforms(con, bars).drop("measured", "mark", "family"),
                                          id="usecase-latency")]))
    slo = _q(con, """SELECT DISTINCT use_case, input_tokens, output_tokens, slo_ttft_ms, slo_tpot_ms, slo_e2e_ms
                      FROM scenarios WHERE use_case IS NOT NULL ORDER BY use_case""")
    secs.append(Section("Use cases and SLOs", "From the use-case library genz/data/usecases.yaml (sources in the file).",
                        tables=[table(slo, id="usecases")]))
    return Page("usecases.html", "Use-case comparison",
                "How the request shape and its SLO change what a deployment delivers.", secs)


def models_page(con) -> Page:
    alt = _alt()
    where, wp = _slice(con, "model-comparison")
    hw = _pick(con, "hardware_id", where, wp, REFERENCE_HW)
    uc = _pick(con, "use_case", where, wp, "chat")
    thr = _q(con, f"""
        SELECT model_id AS model, batch_size,
               round(max(batch_size * input_tokens * 1000.0 / ttft_ms / num_devices), 2) AS prefill,
               round(max(batch_size * 1000.0 / tpot_ms / num_devices), 2) AS decode
        FROM v_estimates
        WHERE {where} AND status = 'ok' AND hardware_id = $hw AND weight_dtype = 'bf16'
              AND use_case = $uc
        GROUP BY ALL ORDER BY model, batch_size""", {**wp, "hw": hw, "uc": uc})
    secs = []
    if thr.height:
        long = thr.unpivot(index=["model", "batch_size"], variable_name="phase", value_name="tok_s_per_device")
        ch = alt.Chart(long).mark_line(point=True).encode(
            x=alt.X("batch_size:Q", scale=alt.Scale(type="log", base=2), title="batch size (log2)"),
            y=alt.Y("tok_s_per_device:Q", scale=alt.Scale(type="log"), title="tokens/s per device (log)"),
            color=alt.Color("model:N"), tooltip=["model", "batch_size", "phase", "tok_s_per_device"]
        ).properties(width=420, height=300).facet(column=alt.Column("phase:N", title=None))
        secs.append(Section("Throughput vs batch, per phase",
                            f"The {uc} request shape on {hw}, bf16, best layout per batch. Prefill counts "
                            "prompt tokens, decode output tokens.", charts=[_vl(ch)]))
    nofit = _q(con, f"""
        SELECT model_id AS model, hardware_id AS hardware, max(tp * pp) AS largest_layout_tried,
               round(min(memory_per_device_gb), 1) AS needs_gb_per_device,
               round(min(weights_per_device_gb), 1) AS weights_gb_per_device
        FROM v_estimates WHERE {where} AND status LIKE 'does_not_fit%'
              AND (model_id, hardware_id) NOT IN (SELECT model_id, hardware_id FROM v_estimates
                                                  WHERE {where} AND status = 'ok')
        GROUP BY ALL ORDER BY model, hardware""", wp)
    partial = _q(con, f"""
        SELECT model_id AS model, hardware_id AS hardware, tp * pp AS devices, weight_dtype,
               round(min(memory_per_device_gb), 1) AS needs_gb_per_device
        FROM v_estimates WHERE {where} AND status LIKE 'does_not_fit%' AND batch_size = 1
        GROUP BY ALL ORDER BY model, hardware, devices, weight_dtype""", wp)
    secs.append(Section("Models that do not fit",
                        "Never fits on the platform in any layout tried, with the memory one device would need:",
                        tables=[table(nofit, id="never-fits"),
                                table(partial, id="does-not-fit", caption="Layouts that do not fit at batch 1")]))
    sizes = _q(con, f"""
        WITH bounds AS (SELECT model_id, decode_bottleneck, count(*) AS n FROM v_estimates
                        WHERE {where} AND decode_bottleneck IS NOT NULL GROUP BY ALL),
             usual AS (SELECT model_id, first(decode_bottleneck ORDER BY n DESC, decode_bottleneck) AS bound
                       FROM bounds GROUP BY ALL)
        SELECT model_id AS model, count(*) AS scenarios, count(*) FILTER (WHERE status = 'ok') AS predicted,
               round(median(tpot_ms) FILTER (WHERE status = 'ok'), 2) AS median_tpot_ms,
               any_value(u.bound) AS usual_decode_bound
        FROM v_estimates LEFT JOIN usual u USING (model_id) WHERE {where} GROUP BY model_id ORDER BY model""", wp)
    secs.append(Section("Per model", "", tables=[table(sizes, id="models")]))
    return Page("models.html", "Model comparison", "Dense, MoE, MLA, SSM and hybrid models side by side.", secs)


def platforms_page(con) -> Page:
    alt = _alt()
    where, wp = _slice(con, "platform-comparison")
    model = _pick(con, "model_id", where, wp, REFERENCE_MODEL)
    uc = _pick(con, "use_case", where, wp, "chat")
    has_fw = _q(con, f"SELECT count(framework) AS n FROM v_estimates WHERE {where}", wp).item()
    fw = _pick(con, "framework", where, wp, "vllm") if has_fw else None
    best = _q(con, f"""
        WITH ok AS (SELECT * FROM v_slo WHERE {where} AND model_id = $model AND use_case = $uc
                    AND framework IS NOT DISTINCT FROM $fw AND meets_slo)
        SELECT hardware_id AS hardware, any_value(calibration_label) AS calibration_label,
               round(max(throughput_tok_s_per_device), 2) AS tok_s_per_device,
               round(max(1e6 / usd_per_million_tokens), 1) AS tokens_per_usd,
               round(max(1.0 / energy_j_per_token), 3) AS tokens_per_joule,
               round(min(usd_per_million_tokens), 3) AS usd_per_million_tokens
        FROM ok GROUP BY ALL ORDER BY tok_s_per_device DESC, hardware""",
              {**wp, "model": model, "uc": uc, "fw": fw})
    secs = []
    if best.height:
        best = mark_platforms(con, best).with_columns(
            platform=pl.when(pl.col("measured")).then(pl.col("hardware"))
            .otherwise(pl.format("{} ({})", pl.col("hardware"), pl.col("calibration_label"))))
        charts = []
        for col, title in (("tok_s_per_device", "output tokens/s per device"),
                           ("tokens_per_usd", "output tokens per USD"),
                           ("tokens_per_joule", "output tokens per joule (tok/s per W)")):
            charts.append(alt.Chart(best).mark_bar().encode(
                y=alt.Y("platform:N", sort=alt.EncodingSortField(field=col, order="descending"),
                        title="platform (unmeasured: faint, label in brackets)"),
                x=alt.X(f"{col}:Q", title=title), color=_vendor_color(alt), opacity=_opacity(alt),
                tooltip=["hardware", "vendor", "family", "calibration_label", "mark", col]
            ).properties(width=240, height=alt.Step(14), title=title))
        ch = alt.hconcat(*charts).resolve_scale(color="shared")
        secs.append(Section(f"{uc} SLO: throughput per device, per dollar, per joule",
                            f"{model}, framework {fw or 'none'} on every platform (like for like), best deployment "
                            f"meeting the {uc} SLO on each platform, each chart ordered by its metric and coloured by "
                            "vendor. Unmeasured platforms (calibration label 'inherited' or 'prior': their numbers "
                            "are priors) are drawn faint and named with their label.",
                            charts=[_vl(ch)],
                            tables=[table(best.select("hardware", "vendor", "family", "calibration_label",
                                                      "tok_s_per_device", "tokens_per_usd", "tokens_per_joule",
                                                      "usd_per_million_tokens"), id="platform-best")]))
    secs.extend(generation_sections(con, fw))
    hw = _q(con, """SELECT platform, calibration_class(label) AS calibration_label, label AS calibration, n_rows,
                           round(compute, 3) AS compute,
                           round(memory, 3) AS memory, round(network, 3) AS network
                    FROM calibration WHERE framework = 'generic' ORDER BY label <> 'calibrated', platform""")
    secs.append(Section("Which platforms are calibrated",
                        "Hardware factors under the reference stack. 'prior' and 'inherited from ...' platforms were "
                        "not measured themselves; their uncertainty bands are wider.",
                        tables=[table(hw, id="platform-calibration")]))
    return Page("platforms.html", "Platform comparison",
                "The same model and use case across hardware, absolute and per dollar and per joule.", secs)


def generation_sections(con, fw: str | None) -> list[Section]:
    """Generation steps (A100 -> H100 -> H200 -> B200; MI300X -> MI325X -> MI355X) per shipped use
    case: what each step buys, with each side's calibration label (v_generation_step)."""
    alt = _alt()
    exps = _q(con, "SELECT experiment, count(*) AS n FROM v_generation_step GROUP BY ALL ORDER BY n DESC, experiment")
    if not exps.height:
        return [Section("Generation steps", "No platform pair of a generation step meets an SLO in this run.")]
    exp = "usecase-comparison" if "usecase-comparison" in exps.get_column("experiment").to_list() \
        else exps.get_column("experiment")[0]
    model = _pick(con, "model_id", "experiment = $exp", {"exp": exp}, REFERENCE_MODEL)
    steps = _q(con, """
        SELECT use_case, lineage, previous_hardware_id || ' → ' || hardware_id AS step, weight_dtype,
               round(throughput_per_device_ratio, 2) AS throughput_per_device_x, round(cost_ratio, 2) AS cost_x,
               round(ttft_ratio, 2) AS ttft_x, round(tpot_ratio, 2) AS tpot_x,
               previous_calibration_label || ' → ' || calibration_label AS calibration_labels,
               (previous_calibration_label = 'calibrated' AND calibration_label = 'calibrated') AS measured
        FROM v_generation_step
        WHERE experiment = $exp AND model_id = $model AND framework IS NOT DISTINCT FROM $fw
              AND use_case IS NOT NULL
        ORDER BY use_case, lineage DESC, step, weight_dtype""", {"exp": exp, "model": model, "fw": fw})
    if not steps.height:
        return [Section("Generation steps", f"No generation step of {model} meets an SLO under {fw}.")]
    steps = steps.with_columns(mark=pl.when(pl.col("measured")).then(pl.lit(""))
                               .otherwise(pl.lit("unmeasured side (prior numbers)")))
    ch = alt.Chart(steps).mark_point(filled=True, size=60).encode(
        x=alt.X("throughput_per_device_x:Q", scale=alt.Scale(type="log"),
                title="throughput per device, newer / previous (×, log)"),
        y=alt.Y("step:N", title=None), color=alt.Color("lineage:N", title="vendor line"),
        shape=alt.Shape("weight_dtype:N", title="weights"), opacity=_opacity(alt),
        tooltip=["use_case", "step", "weight_dtype", "throughput_per_device_x", "cost_x", "ttft_x", "tpot_x",
                 "calibration_labels", "mark"]
    ).properties(width=200, height=alt.Step(16)).facet(facet=alt.Facet("use_case:N", title=None), columns=3)
    return [Section("Generation steps: what each step buys",
                    f"{model}, {exp}, framework {fw or 'none'}: for each use case, the best deployment meeting "
                    "the SLO on each platform (same weights and KV dtype on both sides), newer over previous "
                    "generation: throughput per device (above 1 buys throughput), cost per million output tokens "
                    "and TTFT/TPOT (below 1 is cheaper/faster). A step with an unmeasured side compares priors: "
                    "faint in the chart, its labels in the table.",
                    charts=[_vl(ch)], tables=[table(steps.drop("mark"), id="generation-steps", limit=2000)])]


def requirements_page(con) -> Page:
    alt = _alt()
    req = _q(con, """SELECT model, use_case, hardware, resource, round(ratio, 3) AS ratio, status, binding
                     FROM requirements ORDER BY model, use_case, hardware, resource""")
    secs = []
    if req.height:
        hws = req.get_column("hardware").to_list()
        ref = REFERENCE_HW if REFERENCE_HW in hws else max(sorted(set(hws)), key=hws.count)
        hm = mark_platforms(con, req.filter(pl.col("hardware") == ref))
        hm = hm.with_columns(shown=pl.when(pl.col("status") == "unattainable").then(None).otherwise(pl.col("ratio")),
                             label=pl.when(pl.col("status") == "unattainable").then(pl.lit("∞"))
                             .when(pl.col("binding")).then(pl.format("{}*", pl.col("ratio").round(2)))
                             .otherwise(pl.col("ratio").round(2).cast(pl.String)))
        base = alt.Chart(hm).encode(x=alt.X("resource:N", title=None), y=alt.Y("use_case:N", title=None))
        heat = base.mark_rect().encode(
            color=alt.Color("shown:Q", scale=alt.Scale(scheme="orangered", type="log"),
                            title="required / available"),
            tooltip=["model", "use_case", "resource", "ratio", "status", "binding", "calibration_label"])
        txt = base.mark_text(fontSize=9).encode(text="label:N")
        ch = alt.layer(heat, txt).properties(width=300, height=200).facet(facet=alt.Facet("model:N", title=None),
                                                                           columns=2)
        secs.append(Section(f"Resources needed on {ref}",
                            "For the cheapest deployment of each model × use case, the minimum of each resource "
                            "that still meets the SLO, relative to what the platform has (latency: the platform's "
                            "over the tolerable). Above 1: the platform falls short; * binds first; ∞: this "
                            "resource alone cannot reach the SLO (a row of ∞ only: no single resource does, fixed "
                            "overheads bind). A model that fits no layout of up to 8 devices is shown at its largest "
                            "layout, so memory capacity says how much HBM it lacks.", charts=[_vl(ch)]))
        bind = _q(con, """SELECT hardware, resource, count(*) AS binds_first
                          FROM (SELECT model, use_case, hardware,
                                       coalesce(any_value(resource) FILTER (WHERE binding), 'none alone') AS resource
                                FROM requirements GROUP BY ALL)
                          GROUP BY ALL ORDER BY hardware, binds_first DESC, resource""")
        bind = mark_platforms(con, bind)
        ch2 = alt.Chart(bind).mark_bar().encode(
            x=alt.X("binds_first:Q", title="model × use case combinations"), y=alt.Y("hardware:N", title=None),
            color=alt.Color("resource:N"), opacity=_opacity(alt),
            tooltip=["hardware", "calibration_label", "mark", "resource", "binds_first"]
        ).properties(width=500, height=alt.Step(16))
        secs.append(Section("Which resource binds first",
                            "Per model × use case, the resource with the highest required/available ratio; "
                            "'none alone' where no single resource reaches the SLO.", charts=[_vl(ch2)],
                            tables=[table(bind.drop("measured", "mark", "vendor", "family"), id="binding")]))
        dep = _q(con, """SELECT model, use_case, hardware, meets_slo, tp, pp, ep, batch_size,
                                round(ttft_ms, 1) AS ttft_ms, round(tpot_ms, 2) AS tpot_ms,
                                round(goodput_tok_s_per_device, 1) AS goodput_tok_s_per_device,
                                round(usd_per_million_tokens, 3) AS usd_per_million_tokens
                         FROM deployments ORDER BY model, use_case, usd_per_million_tokens NULLS LAST, hardware""")
        secs.append(Section("Deployment search", "Cheapest layout × batch meeting each SLO (else the fastest that "
                            "runs, marked as not meeting it).", tables=[table(dep, id="deployments", limit=2000)]))
    else:
        secs.append(Section("No requirement search in this run",
                            "Enable it in an experiment with `requirements: {enabled: true}`."))
    return Page("requirements.html", "Platform requirements",
                "What a platform needs to serve each use case within its SLO.", secs)


def bottlenecks_page(con) -> Page:
    alt = _alt()
    hw_ref = _pick(con, "hardware_id", "TRUE", {}, REFERENCE_HW)
    split = _q(con, """
        SELECT model_id AS model,
               prefill_compute_ms AS prefill_compute, prefill_memory_ms AS prefill_memory,
               prefill_network_ms AS prefill_network, prefill_overhead_ms AS prefill_overhead,
               decode_compute_ms AS decode_compute, decode_memory_ms AS decode_memory,
               decode_network_ms AS decode_network, decode_overhead_ms AS decode_overhead
        FROM v_time_split WHERE hardware_id = $hw ORDER BY model""", {"hw": hw_ref})
    secs = []
    if split.height:
        long = split.unpivot(index="model", variable_name="k", value_name="ms").with_columns(
            phase=pl.col("k").str.split("_").list.first(), resource=pl.col("k").str.split("_").list.last())
        long = long.with_columns(share=pl.col("ms") / pl.col("ms").sum().over(["model", "phase"])).with_columns(
            pl.col("share").round(4)).drop("ms", "k")
        ch = alt.Chart(long).mark_bar().encode(
            y=alt.Y("model:N", title=None), x=alt.X("share:Q", stack="normalize", title="share of time"),
            color=alt.Color("resource:N", scale=alt.Scale(domain=["compute", "memory", "network", "overhead"])),
            tooltip=["model", "phase", "resource", "share"]
        ).properties(width=300, height=alt.Step(13)).facet(column=alt.Column("phase:N", title=None))
        secs.append(Section("Where the time goes, per phase",
                            f"All predicted scenarios on {hw_ref}, mean per scenario (v_time_split): compute-bound operators, "
                            "memory-bound operators, collectives, and framework/launch overhead.", charts=[_vl(ch)]))
    ops = _q(con, """
        SELECT o.phase, o.operator, o.kind, s.model_id AS model,
               round(sum(o.gflops) / nullif(sum(o.gbytes), 0), 4) AS flop_per_byte,
               round(sum(o.gflops) / nullif(sum(o.time_ms), 0), 4) AS tflops_achieved,
               first(o.bound ORDER BY o.time_ms DESC, o.bound) AS bound
        FROM operators o JOIN scenarios s USING (experiment, scenario_id)
        WHERE s.hardware_id = $hw AND o.kind IN ('gemm', 'attention') AND o.gbytes > 0
        GROUP BY ALL HAVING sum(o.time_ms) > 0 ORDER BY model, phase, operator""", {"hw": hw_ref})
    if ops.height:
        from ..catalog.hardware import get_hardware

        hw = get_hardware(hw_ref)
        p_tf, bw = hw.peak_flops["bf16"] / 1e12, hw.hbm_bw / 1e9  # TFLOP/s, GB/s
        ridge = p_tf * 1e3 / bw
        roof = pl.DataFrame({"flop_per_byte": [0.1, ridge, 10000.0],
                             "tflops_achieved": [0.1 * bw / 1e3, p_tf, p_tf]})
        pts = alt.Chart(ops).mark_point(filled=True, opacity=0.6).encode(
            x=alt.X("flop_per_byte:Q", scale=alt.Scale(type="log"), title="arithmetic intensity (FLOP/byte, log)"),
            y=alt.Y("tflops_achieved:Q", scale=alt.Scale(type="log"), title="achieved TFLOP/s (log)"),
            color=alt.Color("phase:N"), shape=alt.Shape("kind:N"),
            tooltip=["model", "phase", "operator", "flop_per_byte", "tflops_achieved", "bound"])
        line = alt.Chart(roof).mark_line(color="#2d3748").encode(x="flop_per_byte:Q", y="tflops_achieved:Q")
        secs.append(Section(f"Roofline: operators on {hw_ref}",
                            f"Each point is one operator of a sampled scenario (GEMMs and attention), placed by "
                            f"FLOPs per HBM byte; the line is the bf16 roofline ({p_tf:.0f} TFLOP/s, "
                            f"{bw:.0f} GB/s, ridge at {ridge:.0f} FLOP/byte).",
                            charts=[_vl(alt.layer(line, pts).properties(width=640, height=380))]))
    bb = _q(con, "SELECT * FROM v_bottlenecks ORDER BY model_id, hardware_id, phase, share DESC, bound")
    secs.append(Section("Bound per model and phase", "", tables=[table(bb.with_columns(pl.col("share").round(3)),
                                                                       id="bottlenecks")]))
    return Page("bottlenecks.html", "Bottlenecks",
                "Per phase, how time splits into compute, memory and network, and where operators sit on the "
                "roofline.", secs)


def parallelism_page(con) -> Page:
    alt = _alt()
    where, wp = _slice(con, "parallelism-sweep")
    uc = _pick(con, "use_case", where, wp, "chat")
    prec = "fp8" if wp else "bf16"
    fw = "trt%" if wp else "%"
    pts = _q(con, f"""
        SELECT model_id AS model, hardware_id AS hardware,
               'tp' || tp || ' pp' || pp || ' ep' || ep || ' dp' || dp || ' cp' || cp AS layout,
               batch_size, round(tpot_ms, 3) AS tpot_ms, round(throughput_tok_s_per_device, 3) AS tok_s_per_device
        FROM v_estimates
        WHERE {where} AND status = 'ok' AND use_case = $uc AND weight_dtype = $prec
              AND coalesce(framework, 'trtllm') ILIKE $fw
        ORDER BY model, hardware, tpot_ms, layout, batch_size""", {**wp, "uc": uc, "prec": prec, "fw": fw})
    secs = []
    if pts.height:
        # Pareto front per model x hardware: lowest TPOT for each throughput level
        front = (pts.sort(["model", "hardware", "tpot_ms", "tok_s_per_device"], descending=[False, False, False, True])
                 .with_columns(best=pl.col("tok_s_per_device").cum_max().over(["model", "hardware"]))
                 .filter(pl.col("tok_s_per_device") >= pl.col("best")).drop("best"))
        front = mark_platforms(con, front)
        ch = alt.Chart(front).mark_line(point=True, interpolate="step-after").encode(
            x=alt.X("tpot_ms:Q", scale=alt.Scale(type="log"), title="TPOT (ms, log)"),
            y=alt.Y("tok_s_per_device:Q", scale=alt.Scale(type="log"), title="output tokens/s per device (log)"),
            color=alt.Color("hardware:N"), opacity=_opacity(alt),
            tooltip=["model", "hardware", "calibration_label", "mark", "layout", "batch_size", "tpot_ms",
                     "tok_s_per_device"]
        ).properties(width=280, height=220).facet(facet=alt.Facet("model:N", title=None), columns=3)
        secs.append(Section("Latency vs throughput Pareto fronts",
                            f"The {uc} request shape, {prec}: for every TP/PP/EP/DP layout and batch, "
                            "the fronts of lowest TPOT for each throughput per device.", charts=[_vl(ch)]))
        best = (front.sort("tok_s_per_device", descending=True).unique(["model", "hardware"], keep="first")
                .sort("model", "hardware").drop("measured", "mark", "vendor", "family"))
        secs.append(Section("Highest throughput per device on the front", "",
                            tables=[table(best, id="parallelism-best")]))
    return Page("parallelism.html", "Parallelism", "TP/PP/EP layouts: latency vs throughput per device.", secs)


#: one frontier chart per these columns (a curve per hardware on each)
FRONTIER_CHART = ("experiment", "model", "framework", "input_tokens", "output_tokens", "length_ratio", "weight_dtype",
                  "act_dtype", "kv_dtype")


def frontier_page(con) -> Page:
    """Throughput per GPU vs interactivity: the frontier of each GPU overlaid, one chart per model x
    workload x precision, and the economics at the experiment's interactivity (table ``frontier``,
    curves and interpolation from :mod:`genz.requirements.frontier`)."""
    from ..requirements.frontier import X, Y, at_interactivity

    alt = _alt()
    pts = _q(con, f"""
        SELECT experiment, model, hardware_id AS hardware, framework, input_tokens, output_tokens, length_ratio,
               weight_dtype, act_dtype, kv_dtype, deployment, mode, num_devices, concurrency, status, on_frontier,
               frontier_rank, interactivity_target, calibration,
               {X}, {X}_low, {X}_high, {Y}, {Y}_low, {Y}_high, ttft_ms, usd_per_million_tokens,
               usd_per_million_tokens_low, usd_per_million_tokens_high, power_per_device_w, tok_s_per_mw,
               tok_s_per_mw_low, tok_s_per_mw_high
        FROM v_frontier ORDER BY experiment, model, input_tokens, output_tokens, weight_dtype, act_dtype, kv_dtype,
                                 framework NULLS FIRST, hardware, {X}""")
    if not pts.height:
        return Page("frontier.html", "Serving frontier", "Output tokens/s per GPU against interactivity.", [Section(
            "No frontier sweep in this run",
            "Add an experiment with `frontier: {enabled: true}` (experiments/frontier.yaml), or run "
            "`genz frontier -m MODEL -H HW ...`.")])
    by = [*FRONTIER_CHART, "hardware"]
    at = pl.concat([at_interactivity(g, float(t), by=by)
                    for (t,), g in pts.group_by(["interactivity_target"], maintain_order=True)], how="diagonal_relaxed")
    curves = mark_platforms(con, pts.with_columns(
        pl.format("{}/{}/{}", "weight_dtype", "act_dtype", "kv_dtype").alias("precision"),
        *[pl.col(c).round(3) for c in (X, f"{X}_low", f"{X}_high", Y, f"{Y}_low", f"{Y}_high", "ttft_ms",
                                       "tok_s_per_mw")],
        pl.col("usd_per_million_tokens").round(5)))
    # one chart template (encodings built once; altair's encoding validation is what costs), its data
    # set per chart: the band, the frontier of each GPU, and the chosen interactivity as a rule
    x = alt.X(f"{X}:Q", title="interactivity (output tokens/s per user = 1000 / TPOT)")
    band = alt.Chart().mark_area(opacity=0.08).encode(
        x=x, y=alt.Y(f"{Y}_low:Q", scale=alt.Scale(type="log")), y2=f"{Y}_high:Q",
        color=alt.Color("hardware:N", title="GPU", legend=alt.Legend(symbolOpacity=1, symbolType="stroke")),
        detail="hardware:N")
    line = alt.Chart().mark_line(point=True).encode(
        x=x, y=alt.Y(f"{Y}:Q", title="output tokens/s per GPU (log)", scale=alt.Scale(type="log")),
        color=alt.Color("hardware:N", title="GPU"), opacity=_opacity(alt), order=f"{X}:Q",
        tooltip=["hardware", "calibration_label", "mark", "deployment", "concurrency", "precision", X,
                 f"{X}_low", f"{X}_high", Y, f"{Y}_low", f"{Y}_high", "ttft_ms", "usd_per_million_tokens",
                 "tok_s_per_mw"])
    rule = alt.Chart().transform_aggregate(target="min(interactivity_target)").mark_rule(
        strokeDash=[4, 4], color="#4a5568").encode(x="target:Q")
    template = alt.layer(band, line, rule).properties(width=620, height=340)
    at = mark_platforms(con, at)

    def band_text(c: str, digits: int = 3) -> pl.Expr:
        return pl.struct(f"{c}_low", f"{c}_high").map_elements(
            lambda r: "–" if r[f"{c}_low"] is None else f"{fmt_num(r[f'{c}_low'], digits)} – "
                                                       f"{fmt_num(r[f'{c}_high'], digits)}", return_dtype=pl.String)

    secs: list[Section] = []
    for key, grp in curves.group_by(FRONTIER_CHART, maintain_order=True):
        k = dict(zip(FRONTIER_CHART, key))
        g = grp.select("hardware", "calibration_label", "measured", "mark", "deployment", "concurrency", "precision", X,
                       f"{X}_low", f"{X}_high", Y, f"{Y}_low", f"{Y}_high", "ttft_ms", "usd_per_million_tokens",
                       "tok_s_per_mw", "interactivity_target")
        target = float(g.get_column("interactivity_target")[0])
        title = (f"{k['model']} · ISL {k['input_tokens']} / OSL {k['output_tokens']} · "
                 f"{k['weight_dtype']}/{k['act_dtype']}/{k['kv_dtype']}" + (f" · {k['framework']}" if k["framework"]
                                                                             else ""))
        ch = template.properties(data=g, title=title)
        sel = at
        for c, v in k.items():
            sel = sel.filter(pl.col(c).is_null() if v is None else pl.col(c) == v)
        tab = sel.sort(pl.col(Y).is_null(), Y, "hardware", descending=[False, True, False]).select(
            "hardware", "calibration_label", "reach", pl.col(Y).round(3).alias("tok_s_per_gpu"),
            band_text(Y).alias("tok_s_per_gpu_80pct_band"),
            pl.col("usd_per_million_tokens").round(4).alias("usd_per_m_tokens"),
            band_text("usd_per_million_tokens").alias("usd_per_m_tokens_80pct_band"),
            pl.col("tok_s_per_mw").round(0), band_text("tok_s_per_mw").alias("tok_s_per_mw_80pct_band"),
            "note")
        secs.append(Section(
            title,
            f"Each curve is one GPU's Pareto frontier over its deployments (TP, TP+EP, DP-attention + EP, "
            f"disaggregated prefill/decode) within the budget and client concurrency (experiment {k['experiment']}); "
            f"the shaded band is the calibrated 80 % band of throughput per GPU. Unmeasured GPUs (calibration label "
            f"inherited or prior: their numbers are assumed, not measured) are drawn faint. The dashed line is "
            f"{target:g} tokens/s per user, where the table compares cost per million output tokens (device rental) "
            f"and output tokens/s per MW (accelerator board power), interpolated on each frontier with their bands.",
            charts=[_vl(ch)], tables=[table(tab, id=f"frontier-at-{len(secs) + 1}")]))
    return Page("frontier.html", "Serving frontier",
                "Output tokens/s per GPU against interactivity (tokens/s per user), swept over deployments and "
                "concurrency: the curve architects compare GPUs on.", secs)


def calibration_page(con) -> Page:
    alt = _alt()
    val = _q(con, """SELECT platform, framework_key AS framework, metric, model_id AS model, value AS measured,
                            round(predicted_oof, 4) AS predicted
                     FROM validation WHERE predicted_oof > 0 AND coalesce(scheme, 'model') = 'model'
                     ORDER BY ALL""").rename({"measured": "measured_value"})
    secs = []
    if val.height:
        val = mark_platforms(con, val, col="platform")
        ch = alt.Chart(val).mark_point(opacity=0.5, filled=True, size=18).encode(
            x=alt.X("measured_value:Q", scale=alt.Scale(type="log"), title="measured (log)"),
            y=alt.Y("predicted:Q", scale=alt.Scale(type="log"), title="predicted, out of fold (log)"),
            color=alt.Color("metric:N"),
            tooltip=["platform", "calibration_label", "framework", "metric", "model", "measured_value", "predicted"]
        ).properties(width=220, height=200).facet(facet=alt.Facet("platform:N", title=None), columns=4)
        secs.append(Section("Parity: measured vs predicted (held-out models)",
                            "Each point is a measured row predicted by a fit that never saw its model "
                            "(5-fold cross-validation grouped by model). Units: ms for latencies, tokens/s for "
                            "throughputs.", charts=[_vl(ch)]))
    for name, by in (("platform", ("platform", "framework_key")), ("metric", ("metric",)),
                     ("framework", ("framework_key",)), ("source", ("source_group",))):
        cols = ", ".join(map(quote_ident, by))
        t = _q(con, f"""SELECT coalesce(scheme, 'model') AS scheme, {cols}, count(*) AS rows,
                               round(geomean_rel_err(rel_err), 4) AS geomean_rel_err,
                               round(median(value / predicted_oof), 3) AS median_measured_over_predicted
                        FROM validation WHERE predicted_oof > 0 GROUP BY ALL ORDER BY ALL""")
        secs.append(Section(f"Held-out error by {name}",
                            "scheme 'model': 5 folds grouped by model (a model the fit has not seen); scheme "
                            "'source': leave one source study out (a study, and its serving stack, the fit has not "
                            "seen: how the model generalizes to a new benchmark).",
                            tables=[table(t, id=f"error-{name}")]))
    cov = _q(con, """
        SELECT v.platform, count(*) AS rows,
               round(avg(CASE WHEN v.value BETWEEN v.predicted_oof * c.lo AND v.predicted_oof * c.hi THEN 1 ELSE 0 END), 3)
                 AS inside_band
        FROM validation v JOIN (
          SELECT platform, framework, metric, lo, hi FROM (
            SELECT platform, framework, 'e2e_latency_ms' AS metric, band_e2e_latency_ms_low AS lo, band_e2e_latency_ms_high AS hi FROM calibration
            UNION ALL SELECT platform, framework, 'ttft_ms', band_ttft_ms_low, band_ttft_ms_high FROM calibration
            UNION ALL SELECT platform, framework, 'tpot_ms', band_tpot_ms_low, band_tpot_ms_high FROM calibration
            UNION ALL SELECT platform, framework, 'max_throughput_tok_s', band_max_throughput_tok_s_low,
                             band_max_throughput_tok_s_high FROM calibration)
          WHERE framework = 'generic') c ON v.platform = c.platform AND v.metric = c.metric
        WHERE v.predicted_oof > 0 AND coalesce(v.scheme, 'model') = 'model' GROUP BY ALL ORDER BY v.platform""")
    secs.append(Section("Band coverage",
                        "Share of measured rows inside the platform's 80 % band around the out-of-fold prediction "
                        "(the bands are sized so that held-out coverage is 80 % overall; the per-platform share "
                        "shows where they are tighter or looser).", tables=[table(cov, id="coverage")]))
    used = _q(con, """SELECT profile, count(*) AS estimates FROM estimates WHERE status = 'ok'
                      GROUP BY ALL ORDER BY estimates DESC, profile""")
    secs.append(Section("Profile used by each estimate", "", tables=[table(used, id="profile-usage")]))
    prof = _q(con, """SELECT platform, framework, label, stack_label, n_rows, round(compute, 3) AS compute,
                             round(memory, 3) AS memory, round(network, 3) AS network,
                             round(step_overhead_s * 1e3, 3) AS step_overhead_ms,
                             round(kernel_overhead_s * 1e6, 2) AS kernel_overhead_us
                      FROM calibration ORDER BY platform, framework""")
    secs.append(Section("Fitted factors", "", tables=[table(prof, id="factors")]))
    return Page("calibration.html", "Calibration",
                "How wrong the model is likely to be: errors on models the fit has not seen.", secs)


BUILDERS = [index_page, usecases_page, models_page, platforms_page, requirements_page, bottlenecks_page,
            parallelism_page, frontier_page, calibration_page]


# ----------------------------------------------------------------------------------------------
# rendering
# ----------------------------------------------------------------------------------------------


def _script_json(v) -> str:
    """JSON safe to place inside a <script> element (no '<', '>', '&' that HTML would parse)."""
    from markupsafe import Markup

    text = json.dumps(v, sort_keys=True, separators=(",", ":"), default=str)
    return Markup(text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026"))


def _env(templates: str | Path) -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(templates)), autoescape=True,
                             undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.filters["num"] = fmt_num
    env.filters["tojson_sorted"] = _script_json
    return env


def _write(path: Path, text: str) -> None:
    atomic_write_text(path, text)


def render(db_path: str | Path, out_dir: str | Path, templates: str | Path | None = None) -> list[Path]:
    """Render every report page into ``out_dir``."""
    out_dir = Path(out_dir)
    templates = Path(templates) if templates else TEMPLATES
    env = _env(templates)
    generated = _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    con = connect(db_path)
    try:
        pages = [b(con) for b in BUILDERS]
    finally:
        con.close()
    tpl = env.get_template("page.html.j2")
    bundle = vega_bundle()
    written = []
    for page in pages:
        html = tpl.render(page=page, nav=PAGES, version=__version__, generated_at=generated,
                          vega_bundle=bundle if any(s.charts for s in page.sections) else "")
        p = out_dir / page.file
        _write(p, html)
        written.append(p)
    return written


def run_summary(db_path: str | Path, reports: str | Path, seconds: float) -> str:
    """The short summary printed at the end of a pipeline run."""
    try:
        con = connect(db_path)
    except Exception as exc:  # noqa: BLE001
        return f"genz: done in {seconds:.0f} s ({exc})"
    try:
        n = con.execute("SELECT count(*), count(*) FILTER (WHERE status = 'ok') FROM estimates").fetchall()[0]
        ops = con.execute("SELECT count(*) FROM operators").fetchall()[0][0]
        exps = con.execute("SELECT count(DISTINCT experiment) FROM estimates").fetchall()[0][0]
    finally:
        con.close()
    return (f"genz: {n[0]:,} scenarios in {exps} experiments ({n[1]:,} predicted, {ops:,} operator rows) "
            f"in {seconds:.0f} s; warehouse {db_path}; reports {Path(reports) / 'index.html'}")
