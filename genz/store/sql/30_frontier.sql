-- The serving frontier (genz.requirements.frontier): points of every swept deployment x concurrency,
-- and the view of the frontier points with the class of their calibration label.

COMMENT ON TABLE frontier IS 'Serving frontier sweep: one row per experiment x model x workload x precision x hardware x deployment x concurrency; on_frontier marks the Pareto frontier of output tokens/s per GPU vs interactivity (tokens/s per user) of each hardware';

-- the frontier points only (one curve per experiment x model x workload x precision x framework x hardware),
-- with calibration_label (calibrated = the chip was measured; inherited / prior = assumed) and measured
CREATE OR REPLACE VIEW v_frontier AS
SELECT f.*, calibration_class(f.calibration) AS calibration_label,
       coalesce(calibration_class(f.calibration) = 'calibrated', false) AS measured
FROM frontier f
WHERE f.on_frontier;
