# Calibration: kernel-timing priors (fitted once), one joint fit (hardware factors per platform,
# pooled per architecture family; software factors per serving stack, shared across platforms) with
# its cross-validation (by model and leave-one-source-out, fits cached by content), the merged file,
# and the content-addressed profile files the estimate shards read.
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


# the fit (shared stage on the baseline rows, then each platform group with rows outside the
# baseline; genz.calibrate.baseline), its cross-validation and the stack generations' fit on the
# serving benchmarks (with the shared stage's chips) in one job: the fits are tasks of one worker
# pool, the generations' as soon as the full fit is done. Declared outputs: the fit, and a stamp of the validation and bands (Snakemake deletes
# a job's outputs before it runs; the previous validation and bands must survive a failed run).
rule calibrate:
    input:
        measurements=MEASUREMENT_FILES,
        baseline=BASELINE,
        serving=SERVING_FILES,
        priors="results/calibration/operator_priors.json",
    output:
        fit="results/calibration/fit.json",
        validation=VALIDATION_STAMP,
    log:
        "results/logs/calibrate.log",
    benchmark:
        "results/benchmarks/calibrate.tsv"
    conda:
        "../envs/genz.yaml"
    threads: 2
    resources:
        mem_mb=2000,
    params:
        code=GENZ_FINGERPRINT,
        folds=config["folds"],
        validation=VALIDATION,
        bands=BANDS,
        cache="results/calibration/cv-cache",
        serving_cache="results/calibration/generations-cache.json",
    script:
        "../scripts/calibrate.py"


rule merge_profiles:
    input:
        profiles="results/calibration/fit.json",
        validation=VALIDATION_STAMP,
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
        bands=BANDS,
    script:
        "../scripts/merge_profiles.py"


# The profiles each estimate shard reads, one file per (experiment, platform), written only where
# their content changed (genz.calibrate.publish). A checkpoint: once it has run, Snakemake looks at
# the files' times again and re-estimates only the shards whose profiles changed.
checkpoint publish_profiles:
    input:
        profiles="results/calibration/profiles.json",
        hardware=GRID_HARDWARE_FILES,
    output:
        PUBLISHED_STAMP,
    log:
        "results/logs/publish_profiles.log",
    localrule: True
    conda:
        "../envs/genz.yaml"
    threads: 1
    resources:
        mem_mb=500,
    params:
        code=GENZ_FINGERPRINT,
        folder=PUBLISHED,
        wanted=PUBLISHED_WANTED,
        profile_keys=PROFILE_KEYS,
        keys_file=PUBLISHED_KEYS,
    script:
        "../scripts/publish_profiles.py"
