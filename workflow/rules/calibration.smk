# Calibration: per-platform profiles (a measured platform's depends only on its own measurements and
# the kernel timings; an unmeasured platform's is derived from the measured platforms' profiles),
# cross-validation bands over all measurements, and the merged profiles file.


rule fit_platform:
    input:
        measurements=platform_measurements,
        operators=OPERATOR_FILES,
        peers=platform_peers,
    output:
        "results/calibration/profiles/{platform}.json",
    params:
        code=GENZ_FINGERPRINT,
        hardware=platform_name,
        operators=config.get("operators"),
    log:
        "results/logs/fit_platform/{platform}.log",
    benchmark:
        "results/benchmarks/fit_platform/{platform}.tsv"
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
        profiles=expand("results/calibration/profiles/{platform}.json", platform=PLATFORMS),
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
