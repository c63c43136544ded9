-- Rankings and the questions users ask. Every ranking compares platforms under one framework
-- assumption (framework is part of each partition) and carries calibration_label / measured.

-- per experiment x model x use case x framework x platform: its cheapest deployment meeting the SLO
-- (ties: fewer devices, then the scenario id), with the row's label and the 80 % band of its cost
-- (cost scales as 1 / throughput, so its band is the throughput band inverted)
CREATE OR REPLACE VIEW v_platform_best AS
SELECT * EXCLUDE (rn) FROM (
  SELECT experiment, model_id, use_case, framework, hardware_id, num_devices, tp, pp, ep, dp, weight_dtype,
         kv_dtype, batch_size, ttft_ms, ttft_ms_high, tpot_ms, tpot_ms_high, e2e_latency_ms, throughput_tok_s,
         throughput_tok_s_per_device, usd_per_million_tokens,
         usd_per_million_tokens * throughput_tok_s / nullif(throughput_tok_s_high, 0) AS usd_per_million_tokens_low,
         usd_per_million_tokens * throughput_tok_s / nullif(throughput_tok_s_low, 0) AS usd_per_million_tokens_high,
         energy_j_per_token, bottleneck, calibration, calibration_label, measured,
         row_number() OVER (PARTITION BY experiment, model_id, use_case, framework, hardware_id
                            ORDER BY usd_per_million_tokens, num_devices, scenario_id) AS rn
  FROM v_slo
  WHERE meets_slo AND usd_per_million_tokens IS NOT NULL
) WHERE rn = 1;

-- cheapest platform and layout meeting the SLO, per experiment x model x use case x framework
-- (measured or not: see calibration_label; v_cheapest_measured leads with measured platforms)
CREATE OR REPLACE VIEW v_cheapest_meeting_slo AS
SELECT * EXCLUDE (rn) FROM (
  SELECT *, row_number() OVER (PARTITION BY experiment, model_id, use_case, framework
                               ORDER BY usd_per_million_tokens, num_devices, hardware_id) AS rn
  FROM v_platform_best
) WHERE rn = 1;

-- the cheapest MEASURED platform per experiment x model x use case x framework, its runner-up
-- (the next measured platform), the margin, and the cheapest unmeasured platform if it is cheaper
CREATE OR REPLACE VIEW v_cheapest_measured AS
WITH ranked AS (
  SELECT *, row_number() OVER (PARTITION BY experiment, model_id, use_case, framework
                               ORDER BY usd_per_million_tokens, num_devices, hardware_id) AS rn
  FROM v_platform_best WHERE measured),
unmeasured AS (
  SELECT experiment, model_id, use_case, framework,
         arg_min(hardware_id, usd_per_million_tokens) AS unmeasured_hardware_id,
         min(usd_per_million_tokens) AS unmeasured_usd_per_million_tokens,
         arg_min(calibration_label, usd_per_million_tokens) AS unmeasured_calibration_label
  FROM v_platform_best WHERE NOT measured GROUP BY ALL)
SELECT a.experiment, a.model_id, a.use_case, a.framework, a.hardware_id, a.num_devices, a.tp, a.pp, a.ep,
       a.weight_dtype, a.kv_dtype, a.batch_size,
       a.usd_per_million_tokens, a.usd_per_million_tokens_low, a.usd_per_million_tokens_high,
       a.ttft_ms, a.ttft_ms_high, a.tpot_ms, a.tpot_ms_high, a.throughput_tok_s_per_device,
       a.calibration, a.calibration_label,
       b.hardware_id AS runner_up_hardware_id, b.usd_per_million_tokens AS runner_up_usd_per_million_tokens,
       100.0 * (b.usd_per_million_tokens / a.usd_per_million_tokens - 1) AS margin_pct,
       CASE WHEN u.unmeasured_usd_per_million_tokens < a.usd_per_million_tokens THEN u.unmeasured_hardware_id END
         AS cheaper_unmeasured_hardware_id,
       CASE WHEN u.unmeasured_usd_per_million_tokens < a.usd_per_million_tokens
            THEN u.unmeasured_usd_per_million_tokens END AS cheaper_unmeasured_usd_per_million_tokens,
       CASE WHEN u.unmeasured_usd_per_million_tokens < a.usd_per_million_tokens
            THEN u.unmeasured_calibration_label END AS cheaper_unmeasured_calibration_label
FROM ranked a
LEFT JOIN ranked b ON b.rn = 2 AND b.experiment = a.experiment AND b.model_id = a.model_id
     AND b.use_case IS NOT DISTINCT FROM a.use_case AND b.framework IS NOT DISTINCT FROM a.framework
LEFT JOIN unmeasured u ON u.experiment = a.experiment AND u.model_id = a.model_id
     AND u.use_case IS NOT DISTINCT FROM a.use_case AND u.framework IS NOT DISTINCT FROM a.framework
WHERE a.rn = 1;

-- throughput per dollar and per watt, per predicted scenario
CREATE OR REPLACE VIEW v_efficiency AS
SELECT experiment, scenario_id, model_id, use_case, framework, hardware_id, num_devices, tp, pp, ep,
       weight_dtype, kv_dtype, batch_size, throughput_tok_s, throughput_tok_s_per_device,
       usd_per_million_tokens, energy_j_per_token,
       1e6 / nullif(usd_per_million_tokens, 0) AS output_tokens_per_usd,
       1.0 / nullif(energy_j_per_token, 0) AS output_tokens_per_joule,
       meets_slo, calibration_label, measured
FROM v_slo;

-- deployments (requirement search) with the class of their calibration label
CREATE OR REPLACE VIEW v_deployments AS
SELECT d.*, coalesce(calibration_class(d.calibration), calibration_class(c.label)) AS calibration_label,
       coalesce(coalesce(calibration_class(d.calibration), calibration_class(c.label)) = 'calibrated', false)
         AS measured
FROM deployments d
LEFT JOIN (SELECT profile, any_value(label) AS label FROM calibration GROUP BY profile) c ON c.profile = d.profile;

-- the resource that binds first per experiment x model x use case x platform (requirement search):
-- the highest finite required/available ratio; 'none alone' where no single resource reaches the SLO
CREATE OR REPLACE VIEW v_binding_resource AS
SELECT r.experiment, r.model AS model_id, r.use_case, r.hardware AS hardware_id,
       coalesce(any_value(r.resource) FILTER (WHERE r.binding), 'none alone') AS binding_resource,
       any_value(r.unit) FILTER (WHERE r.binding) AS unit,
       any_value(r.available) FILTER (WHERE r.binding) AS available,
       any_value(r.required) FILTER (WHERE r.binding) AS required,
       any_value(r.ratio) FILTER (WHERE r.binding) AS ratio,
       bool_and(r.meets_slo_as_is) AS meets_slo_as_is,
       any_value(d.framework) AS framework, any_value(d.calibration_label) AS calibration_label,
       coalesce(any_value(d.measured), false) AS measured
FROM requirements r
LEFT JOIN v_deployments d ON d.experiment = r.experiment AND d.model = r.model AND d.use_case = r.use_case
     AND d.hardware = r.hardware
GROUP BY r.experiment, r.model, r.use_case, r.hardware;

-- what-if: per experiment x model x use case x platform x resource, the factor by which that resource
-- alone (the others as they are) must scale for the deployment to meet the SLO
CREATE OR REPLACE VIEW v_whatif AS
SELECT r.experiment, r.model AS model_id, r.use_case, r.hardware AS hardware_id, r.resource, r.unit,
       r.available, r.required,
       CASE WHEN r.status = 'unattainable' THEN NULL
            WHEN r.resource = 'interconnect_latency' THEN 1.0 / r.ratio ELSE r.ratio END AS scale_needed,
       r.meets_slo_as_is, r.status, r.binding,
       (r.status <> 'unattainable' AND r.ratio <= 1.5) AS meets_slo_at_1_5x,
       (r.status <> 'unattainable' AND r.ratio <= 2.0) AS meets_slo_at_2x,
       CASE WHEN r.meets_slo_as_is THEN 'meets the SLO as is'
            WHEN r.status = 'unattainable' THEN r.resource || ' alone cannot reach the SLO'
            WHEN r.resource = 'interconnect_latency'
              THEN 'with ' || round(1.0 / r.ratio, 2) || 'x ' || r.resource || ' the SLO is met'
            ELSE 'with ' || round(r.ratio, 2) || 'x ' || r.resource || ' the SLO is met' END AS verdict,
       d.calibration_label, coalesce(d.measured, false) AS measured
FROM requirements r
LEFT JOIN v_deployments d ON d.experiment = r.experiment AND d.model = r.model AND d.use_case = r.use_case
     AND d.hardware = r.hardware;

-- generation steps (A100 -> H100 -> H200 -> B200, MI300X -> MI325X -> MI355X): per experiment x model x
-- use case x framework x dtypes, what the newer platform's best SLO-meeting deployment buys over the previous one's
CREATE OR REPLACE VIEW v_generation_step AS
WITH steps(lineage, step, previous_hardware_id, hardware_id) AS (VALUES
  ('NVIDIA', 1, 'A100-SXM-80GB', 'H100-SXM-80GB'), ('NVIDIA', 2, 'H100-SXM-80GB', 'H200-SXM-141GB'),
  ('NVIDIA', 3, 'H200-SXM-141GB', 'B200-SXM-180GB'),
  ('AMD', 1, 'MI300X', 'MI325X'), ('AMD', 2, 'MI325X', 'MI355X')),
per AS (
  SELECT experiment, model_id, use_case, framework, weight_dtype, kv_dtype, hardware_id,
         max(throughput_tok_s_per_device) AS throughput_tok_s_per_device,
         min(usd_per_million_tokens) AS usd_per_million_tokens, min(ttft_ms) AS ttft_ms, min(tpot_ms) AS tpot_ms,
         any_value(calibration_label) AS calibration_label
  FROM v_slo WHERE meets_slo AND hardware_id IN (SELECT hardware_id FROM steps UNION SELECT previous_hardware_id FROM steps)
  GROUP BY ALL)
SELECT n.experiment, n.model_id, n.use_case, n.framework, n.weight_dtype, n.kv_dtype, s.lineage, s.step, s.previous_hardware_id, s.hardware_id,
       n.throughput_tok_s_per_device / p.throughput_tok_s_per_device AS throughput_per_device_ratio,
       n.usd_per_million_tokens / p.usd_per_million_tokens AS cost_ratio,
       n.ttft_ms / p.ttft_ms AS ttft_ratio, n.tpot_ms / p.tpot_ms AS tpot_ratio,
       p.calibration_label AS previous_calibration_label, n.calibration_label
FROM steps s
JOIN per n ON n.hardware_id = s.hardware_id
JOIN per p ON p.hardware_id = s.previous_hardware_id AND p.experiment = n.experiment AND p.model_id = n.model_id
     AND p.use_case IS NOT DISTINCT FROM n.use_case AND p.framework IS NOT DISTINCT FROM n.framework
     AND p.weight_dtype IS NOT DISTINCT FROM n.weight_dtype AND p.kv_dtype IS NOT DISTINCT FROM n.kv_dtype;

-- which resource bounds decode (and prefill), per model x platform: share of predicted scenarios
CREATE OR REPLACE VIEW v_bottlenecks AS
SELECT model_id, hardware_id, 'decode' AS phase, decode_bottleneck AS bound, count(*) AS scenarios,
       count(*) / sum(count(*)) OVER (PARTITION BY model_id, hardware_id) AS share
FROM v_estimates WHERE status = 'ok' GROUP BY model_id, hardware_id, decode_bottleneck
UNION ALL
SELECT model_id, hardware_id, 'prefill', prefill_bottleneck, count(*),
       count(*) / sum(count(*)) OVER (PARTITION BY model_id, hardware_id)
FROM v_estimates WHERE status = 'ok' GROUP BY model_id, hardware_id, prefill_bottleneck;

-- time split of each phase into compute / memory / network / overhead: the mean per predicted scenario,
-- per model x platform, and each part's share of the phase (mean of the per-scenario shares)
CREATE OR REPLACE VIEW v_time_split AS
SELECT model_id, hardware_id, count(*) AS scenarios,
       avg(prefill_compute_ms) AS prefill_compute_ms, avg(prefill_memory_ms) AS prefill_memory_ms,
       avg(prefill_network_ms) AS prefill_network_ms, avg(prefill_overhead_ms) AS prefill_overhead_ms,
       avg(decode_compute_ms) AS decode_compute_ms, avg(decode_memory_ms) AS decode_memory_ms,
       avg(decode_network_ms) AS decode_network_ms, avg(decode_overhead_ms) AS decode_overhead_ms,
       avg(prefill_compute_ms / nullif(prefill_compute_ms + prefill_memory_ms + prefill_network_ms + prefill_overhead_ms, 0))
         AS prefill_compute_share,
       avg(decode_memory_ms / nullif(decode_compute_ms + decode_memory_ms + decode_network_ms + decode_overhead_ms, 0))
         AS decode_memory_share
FROM v_estimates WHERE status = 'ok' GROUP BY model_id, hardware_id;
