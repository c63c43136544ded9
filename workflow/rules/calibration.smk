# Calibration: kernel-timing priors (fitted once), one joint fit (hardware factors per platform,
# pooled per architecture family; software factors per serving stack, shared across platforms),
# per-platform extracts that the estimate shards read, cross-validation (by model and
# leave-one-source-out) and the merged file.


rule fit_operator_priors:
    input:
        tables=OPERATOR_TABLES,
    output:
        "results/calibration/operator_priors.json",
    log:
        "results/logs/fit_operator_priors.log",
    benchmark:
        "results/benchmarks/fit_operator_priors.tsv"
    conda:
        "../envs/genz.yaml"
    threads: 1
    resources:
        mem_mb=1000,
    params:
        code=GENZ_FINGERPRINT,
    script:
        "../scripts/fit_operator_priors.py"


rule fit_profiles:
    input:
        measurements=MEASUREMENT_FILES,
        priors="results/calibration/operator_priors.json",
    output:
        "results/calibration/fit.json",
    log:
        "results/logs/fit_profiles.log",
    benchmark:
        "results/benchmarks/fit_profiles.tsv"
    conda:
        "../envs/genz.yaml"
    threads: 1
    resources:
        mem_mb=2000,
    params:
        code=GENZ_FINGERPRINT,
    script:
        "../scripts/fit_profiles.py"


rule fit_platform:
    input:
        fit="results/calibration/fit.json",
    output:
        "results/calibration/profiles/{platform}.json",
    log:
        "results/logs/fit_platform/{platform}.log",
    localrule: True
    conda:
        "../envs/genz.yaml"
    threads: 1
    resources:
        mem_mb=500,
    params:
        code=GENZ_FINGERPRINT,
        hardware=platform_name,
    script:
        "../scripts/fit_platform.py"


rule validate_calibration:
    input:
        measurements=MEASUREMENT_FILES,
        priors="results/calibration/operator_priors.json",
    output:
        validation="results/calibration/validation.parquet",
        bands="results/calibration/bands.json",
    log:
        "results/logs/validate_calibration.log",
    benchmark:
        "results/benchmarks/validate_calibration.tsv"
    conda:
        "../envs/genz.yaml"
    threads: 2
    resources:
        mem_mb=2000,
    params:
        code=GENZ_FINGERPRINT,
        folds=config["folds"],
    script:
        "../scripts/validate_calibration.py"


rule merge_profiles:
    input:
        profiles="results/calibration/fit.json",
        bands="results/calibration/bands.json",
    output:
        "results/calibration/profiles.json",
    log:
        "results/logs/merge_profiles.log",
    localrule: True
    conda:
        "../envs/genz.yaml"
    threads: 1
    resources:
        mem_mb=500,
    params:
        code=GENZ_FINGERPRINT,
    script:
        "../scripts/merge_profiles.py"
