"""The warehouse views answer the questions users ask: every README example query returns rows on a
warehouse built by the pipeline from a small platform comparison (with a requirement search), and every
view column carries a description.

``README_QUERIES`` is the list of example queries printed in the README (keep them in step)."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

#: the README's example queries, verbatim (each must return rows on the shipped grids)
README_QUERIES = [
    # cheapest MEASURED platform meeting the chat SLO for Llama-3.1-70B, per framework (like for like),
    # with the runner-up, the margin, its cost band, and an unmeasured platform that would be cheaper
    """SELECT framework, hardware_id, num_devices, tp, batch_size, round(usd_per_million_tokens, 3) AS usd,
       round(usd_per_million_tokens_low, 3) AS usd_low, round(usd_per_million_tokens_high, 3) AS usd_high,
       calibration_label, runner_up_hardware_id, round(margin_pct, 1) AS margin_pct,
       cheaper_unmeasured_hardware_id, cheaper_unmeasured_calibration_label
FROM v_cheapest_measured
WHERE experiment = 'platform-comparison' AND model_id = 'meta-llama/Llama-3.1-70B' AND use_case = 'chat'
ORDER BY framework""",
    # the five cheapest measured deployments meeting the chat SLO for Llama-3.1-70B under vLLM
    """SELECT hardware_id, num_devices, tp, batch_size, ttft_ms, tpot_ms, usd_per_million_tokens, calibration_label
FROM v_slo
WHERE experiment = 'platform-comparison' AND model_id = 'meta-llama/Llama-3.1-70B' AND use_case = 'chat'
  AND framework = 'vllm' AND meets_slo AND measured
ORDER BY usd_per_million_tokens LIMIT 5""",
    # every platform, measured or not, side by side: best tokens per dollar and per joule meeting the SLO
    """SELECT hardware_id, calibration_label, measured, round(max(output_tokens_per_usd)) AS tokens_per_usd,
       round(max(output_tokens_per_joule), 2) AS tokens_per_joule
FROM v_efficiency
WHERE experiment = 'platform-comparison' AND model_id = 'meta-llama/Llama-3.1-70B' AND use_case = 'chat'
  AND framework = 'vllm' AND meets_slo
GROUP BY ALL ORDER BY measured DESC, tokens_per_usd DESC""",
    # which resource binds first on each platform for Llama-3.1-70B chat
    """SELECT hardware_id, binding_resource, round(ratio, 2) AS ratio, meets_slo_as_is, calibration_label
FROM v_binding_resource
WHERE model_id = 'meta-llama/Llama-3.1-70B' AND use_case = 'chat'
ORDER BY hardware_id""",
    # what if each platform had more HBM bandwidth: the factor it needs, in words
    """SELECT hardware_id, round(scale_needed, 2) AS scale_needed, meets_slo_at_1_5x, verdict, calibration_label
FROM v_whatif
WHERE model_id = 'meta-llama/Llama-3.1-70B' AND use_case = 'chat' AND resource = 'memory_bandwidth'
ORDER BY hardware_id""",
    # what each generation step buys for Llama-3.1-70B under vLLM, per use case
    """SELECT use_case, weight_dtype, previous_hardware_id, hardware_id,
       round(throughput_per_device_ratio, 2) AS throughput_x, round(cost_ratio, 2) AS cost_x,
       previous_calibration_label, calibration_label
FROM v_generation_step
WHERE experiment = 'platform-comparison' AND model_id = 'meta-llama/Llama-3.1-70B' AND framework = 'vllm'
ORDER BY use_case, weight_dtype, lineage, step""",
    # which resource bounds decode, per model and platform
    """SELECT model_id, hardware_id, bound, round(100 * share, 1) AS pct
FROM v_bottlenecks WHERE phase = 'decode'
QUALIFY row_number() OVER (PARTITION BY model_id, hardware_id ORDER BY share DESC) = 1
ORDER BY model_id, hardware_id""",
    # where decode time goes, mean per scenario, per platform
    """SELECT hardware_id, scenarios, round(decode_memory_ms, 3) AS decode_memory_ms,
       round(100 * decode_memory_share, 1) AS decode_memory_pct
FROM v_time_split WHERE model_id = 'meta-llama/Llama-3.1-70B'
ORDER BY hardware_id""",
    # what would an H100 need to serve Llama-3.1-70B under the chat SLO
    """SELECT resource, available, required, unit, status, binding FROM requirements
WHERE model = 'meta-llama/Llama-3.1-70B' AND use_case = 'chat' AND hardware = 'H100-SXM-80GB'""",
    # calibration error per platform
    """SELECT * FROM v_calibration_error ORDER BY platform, metric""",
    # the serving frontier of DeepSeek-R1 (fp8) at 1k/1k: each GPU's curve, with its band and label
    """SELECT hardware_id, deployment, concurrency, round(interactivity_tok_s_user, 1) AS tok_s_user,
       round(throughput_tok_s_per_device) AS tok_s_gpu, round(throughput_tok_s_per_device_low) AS low,
       round(throughput_tok_s_per_device_high) AS high, calibration_label
FROM v_frontier
WHERE model = 'deepseek-ai/DeepSeek-R1' AND weight_dtype = 'fp8' AND input_tokens = 1024 AND output_tokens = 1024
ORDER BY hardware_id, frontier_rank""",
]

#: a small platform comparison with the README's names: a measured (H100, A100) and an unmeasured
#: (MI300X, MI325X) generation step each, vLLM, chat, with a requirement search
GRID = """description: views test - a small platform comparison
grid:
  model: [meta-llama/Llama-3.1-70B]
  hardware: [A100-SXM-80GB, H100-SXM-80GB, MI300X, MI325X]
  use_case: [chat]
  parallel: [{tp: 4}, {tp: 8}]
  precision: [{weight_dtype: fp8, kv_dtype: fp8}]
  batch_size: [1, 16]
  framework: [vllm]
operators: none
requirements:
  enabled: true
"""


#: a small serving frontier for the README's frontier query (genz.requirements.frontier)
FRONTIER = """description: views test - a small serving frontier
grid:
  model: [deepseek-ai/DeepSeek-R1]
  hardware: [H200-SXM-141GB, MI300X]
  input_tokens: [1024]
  output_tokens: [1024]
  precision: [{weight_dtype: fp8, kv_dtype: fp8}]
frontier:
  enabled: true
  devices: 8
  concurrency: [1, 16, 128]
"""


@pytest.fixture(scope="module")
def db(tmp_path_factory) -> Path:
    from tests.workflow.conftest import make_project
    from tests.workflow.test_pipeline import run_api

    project = make_project(tmp_path_factory.mktemp("views") / "proj")
    (project / "experiments" / "platform-comparison.yaml").write_text(GRID)
    (project / "experiments" / "frontier.yaml").write_text(FRONTIER)
    run_api(project)
    db = project / "results" / "warehouse.duckdb"
    # the test measurement set identifies no platform's hardware factors (every label is 'prior'):
    # relabel the NVIDIA rows as calibrated, as the shipped calibration labels them, so the rankings
    # have measured and unmeasured platforms to tell apart
    con = duckdb.connect(str(db))
    try:
        for t in ("estimates", "deployments"):
            con.execute(f"""UPDATE {t} SET calibration = 'calibrated' || substr(calibration, 6)
                            WHERE calibration LIKE 'prior%' AND (profile LIKE 'H100%' OR profile LIKE 'A100%')""")
    finally:
        con.close()
    return db


@pytest.mark.parametrize("i", range(len(README_QUERIES)))
def test_readme_query_returns_rows(db, i):
    con = duckdb.connect(str(db), read_only=True)
    try:
        rows = con.execute(README_QUERIES[i]).fetchall()
    finally:
        con.close()
    assert rows, README_QUERIES[i]


def test_every_view_column_is_described(db):
    con = duckdb.connect(str(db), read_only=True)
    try:
        missing = con.execute("""SELECT table_name, column_name FROM duckdb_columns()
                                 WHERE NOT internal AND table_name LIKE 'v\\_%' ESCAPE '\\'
                                   AND (comment IS NULL OR comment = '') ORDER BY ALL""").fetchall()
    finally:
        con.close()
    assert not missing, missing


def test_rankings_are_like_for_like_and_labelled(db):
    """One row per framework, every ranked row labelled, the headline a measured platform, and an
    unmeasured cheaper platform (if any) named apart."""
    con = duckdb.connect(str(db), read_only=True)
    try:
        dup = con.execute("""SELECT experiment, model_id, use_case, framework, count(*) FROM v_cheapest_meeting_slo
                             GROUP BY ALL HAVING count(*) > 1""").fetchall()
        labels = con.execute("SELECT DISTINCT calibration_label FROM v_cheapest_meeting_slo").fetchall()
        measured = con.execute("SELECT DISTINCT calibration_label FROM v_cheapest_measured").fetchall()
        unmeasured = con.execute("""SELECT DISTINCT cheaper_unmeasured_calibration_label FROM v_cheapest_measured
                                    WHERE cheaper_unmeasured_hardware_id IS NOT NULL""").fetchall()
        classes = con.execute("""SELECT calibration_class('calibrated: x'), calibration_class('inherited from A+B: x'),
                                        calibration_class('prior: x; extrapolated: batch 9'), calibration_class('x')""").fetchall()
    finally:
        con.close()
    assert not dup
    assert labels and all(lb[0] in ("calibrated", "inherited", "prior") for lb in labels)
    assert measured == [("calibrated",)]
    assert all(u[0] in ("inherited", "prior") for u in unmeasured)
    assert classes == [("calibrated", "inherited", "prior", None)]
