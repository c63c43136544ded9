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

-- the class of a calibration label (estimates.calibration or calibration.label): calibrated,
-- inherited or prior; NULL for anything else. Every ranking derives calibration_label through this.
-- geometric-mean relative error of a column of |pred - meas| / meas (genz.calibrate.stats: same floor)
CREATE OR REPLACE MACRO geomean_rel_err(rel_err) AS exp(avg(ln(rel_err + 1e-9)));

CREATE OR REPLACE MACRO calibration_class(label) AS
  CASE WHEN label LIKE 'calibrated%' THEN 'calibrated'
       WHEN label LIKE 'inherited%' THEN 'inherited'
       WHEN label LIKE 'prior%' THEN 'prior' END;

-- scenario + prediction, one row per grid point, with the class of its calibration label
-- (from the row's label, else the label of its profile in the calibration table) and measured
CREATE OR REPLACE VIEW v_estimates AS
SELECT s.*, e.* EXCLUDE (experiment, scenario_id),
       coalesce(calibration_class(e.calibration), calibration_class(c.label)) AS calibration_label,
       coalesce(coalesce(calibration_class(e.calibration), calibration_class(c.label)) = 'calibrated', false)
         AS measured
FROM scenarios s JOIN estimates e USING (experiment, scenario_id)
LEFT JOIN (SELECT profile, any_value(label) AS label FROM calibration GROUP BY profile) c ON c.profile = e.profile;

-- does each predicted scenario meet its use case's SLO (missing bounds count as met)
-- (meets_ttft, meets_tpot, meets_e2e, meets_slo at the SLO confidence, meets_slo_point: decided in
-- Python by genz.requirements.slo when the shard was estimated; never re-derived here)
CREATE OR REPLACE VIEW v_slo AS
SELECT *
FROM v_estimates
WHERE status = 'ok';

-- held-out error of the calibration, per validation scheme x platform x framework x metric
CREATE OR REPLACE VIEW v_calibration_error AS
SELECT coalesce(scheme, 'model') AS scheme, platform, framework_key AS framework, metric, count(*) AS rows,
       geomean_rel_err(rel_err) AS geomean_rel_err,
       median(value / predicted_oof) AS median_measured_over_predicted
FROM validation WHERE predicted_oof IS NOT NULL AND predicted_oof > 0
GROUP BY coalesce(scheme, 'model'), platform, framework_key, metric;
