-- User-facing views over the loaded tables. Rebuilt with the warehouse; never edit by hand.

COMMENT ON TABLE scenarios IS 'One row per (experiment, scenario): the typed scenario columns of every grid point';
COMMENT ON TABLE estimates IS 'Predictions per (experiment, scenario); *_low/*_high are the calibrated 80 % band';
COMMENT ON TABLE operators IS 'Per-operator breakdown (FLOPs, bytes, time, bound) of sampled scenarios, per phase';
COMMENT ON TABLE measurements IS 'Measured latencies/throughputs used for calibration (calibration/measurements)';
COMMENT ON TABLE calibration IS 'Efficiency profiles: one row per platform x serving stack (hardware factors composed with the stack''s software factors), with the calibration label';
COMMENT ON TABLE validation IS 'Every measured row with its held-out prediction, once per scheme: model (5 folds grouped by model) and source (leave one source study out)';
COMMENT ON TABLE requirements IS 'SLO requirement search: minimum of each resource needed to meet a use case SLO';
COMMENT ON TABLE runs IS 'Provenance of this warehouse build';
COMMENT ON TABLE deployments IS 'Deployment search: cheapest layout x batch meeting each use case SLO, per model x platform';

-- scenario + prediction, one row per grid point
CREATE OR REPLACE VIEW v_estimates AS
SELECT s.*, e.* EXCLUDE (experiment, scenario_id)
FROM scenarios s JOIN estimates e USING (experiment, scenario_id);

-- does each predicted scenario meet its use case's SLO (missing bounds count as met)
-- (meets_ttft, meets_tpot, meets_e2e, meets_slo at the SLO confidence, meets_slo_point: decided in
-- Python by genz.requirements.slo when the shard was estimated; never re-derived here)
CREATE OR REPLACE VIEW v_slo AS
SELECT *
FROM v_estimates
WHERE status = 'ok';

-- cheapest deployment ($ per million output tokens) meeting the SLO, per experiment x model x use case
CREATE OR REPLACE VIEW v_cheapest_meeting_slo AS
SELECT * EXCLUDE (rn) FROM (
  SELECT experiment, model_id, use_case, hardware_id, num_devices, tp, pp, ep, dp, weight_dtype, kv_dtype,
         batch_size, ttft_ms, tpot_ms, e2e_latency_ms, throughput_tok_s, usd_per_million_tokens,
         energy_j_per_token, bottleneck,
         row_number() OVER (PARTITION BY experiment, model_id, use_case
                            ORDER BY usd_per_million_tokens, num_devices, scenario_id) AS rn
  FROM v_slo
  WHERE meets_slo AND usd_per_million_tokens IS NOT NULL
) WHERE rn = 1;

-- which resource bounds decode (and prefill), per model: share of predicted scenarios
CREATE OR REPLACE VIEW v_bottlenecks AS
SELECT model_id, 'decode' AS phase, decode_bottleneck AS bound, count(*) AS scenarios,
       count(*) / sum(count(*)) OVER (PARTITION BY model_id) AS share
FROM v_estimates WHERE status = 'ok' GROUP BY model_id, decode_bottleneck
UNION ALL
SELECT model_id, 'prefill', prefill_bottleneck, count(*),
       count(*) / sum(count(*)) OVER (PARTITION BY model_id)
FROM v_estimates WHERE status = 'ok' GROUP BY model_id, prefill_bottleneck;

-- time split of each phase into compute / memory / network / overhead, summed per model x hardware
CREATE OR REPLACE VIEW v_time_split AS
SELECT model_id, hardware_id,
       sum(prefill_compute_ms) AS prefill_compute_ms, sum(prefill_memory_ms) AS prefill_memory_ms,
       sum(prefill_network_ms) AS prefill_network_ms, sum(prefill_overhead_ms) AS prefill_overhead_ms,
       sum(decode_compute_ms) AS decode_compute_ms, sum(decode_memory_ms) AS decode_memory_ms,
       sum(decode_network_ms) AS decode_network_ms, sum(decode_overhead_ms) AS decode_overhead_ms
FROM v_estimates WHERE status = 'ok' GROUP BY model_id, hardware_id;

-- held-out error of the calibration, per validation scheme x platform x framework x metric
CREATE OR REPLACE VIEW v_calibration_error AS
SELECT coalesce(scheme, 'model') AS scheme, platform, framework_key AS framework, metric, count(*) AS rows,
       exp(avg(ln(rel_err + 1e-9))) AS geomean_rel_err,
       median(value / predicted_oof) AS median_measured_over_predicted
FROM validation WHERE predicted_oof IS NOT NULL AND predicted_oof > 0
GROUP BY coalesce(scheme, 'model'), platform, framework_key, metric;
