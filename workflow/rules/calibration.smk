# Calibration: one joint fit (hardware factors per platform, pooled per architecture family;
# software factors per serving stack, shared across platforms), per-platform extracts that the
# estimate shards read, cross-validation (by model and leave-one-source-out) and the merged file.


rule fit_profiles:
    input:
        measurements=MEASUREMENT_FILES,
        operators=OPERATOR_FILES,
    output:
        "results/calibration/fit.json",
    params:
        code=GENZ_FINGERPRINT,
        operators=config.get("operators"),
    threads: 1
    log:
        "results/logs/fit_profiles.log",
    benchmark:
        "results/benchmarks/fit_profiles.tsv"
    script:
        "../scripts/fit_profiles.py"


rule fit_platform:
    input:
        fit="results/calibration/fit.json",
    output:
        "results/calibration/profiles/{platform}.json",
    params:
        code=GENZ_FINGERPRINT,
        hardware=platform_name,
    localrule: True
    log:
        "results/logs/fit_platform/{platform}.log",
    script:
        "../scripts/fit_platform.py"


rule validate_calibration:
    input:
        measurements=MEASUREMENT_FILES,
        operators=OPERATOR_FILES,
    output:
        validation="results/calibration/validation.parquet",
        bands="results/calibration/bands.json",
    params:
        code=GENZ_FINGERPRINT,
        folds=config["folds"],
        operators=config.get("operators"),
    threads: 2
    log:
        "results/logs/validate_calibration.log",
    benchmark:
        "results/benchmarks/validate_calibration.tsv"
    script:
        "../scripts/validate_calibration.py"


rule merge_profiles:
    input:
        profiles="results/calibration/fit.json",
        bands="results/calibration/bands.json",
    output:
        "results/calibration/profiles.json",
    params:
        code=GENZ_FINGERPRINT,
    localrule: True
    log:
        "results/logs/merge_profiles.log",
    script:
        "../scripts/merge_profiles.py"
