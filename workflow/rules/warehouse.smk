# The warehouse: the single writer of results/warehouse.duckdb (built aside, then renamed).


rule warehouse:
    input:
        estimates=shard_paths("estimates"),
        operators=shard_paths("operators"),
        measurements=MEASUREMENT_FILES,
        profiles="results/calibration/profiles.json",
        validation="results/calibration/validation.parquet",
    output:
        config["warehouse"],
    params:
        code=GENZ_FINGERPRINT,
        schema=SCHEMA_VERSION,
        experiments=list(EXPERIMENTS),
    localrule: True
    log:
        "results/logs/warehouse.log",
    benchmark:
        "results/benchmarks/warehouse.tsv"
    script:
        "../scripts/warehouse.py"
