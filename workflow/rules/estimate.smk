# Estimation: one job per shard (experiment x hardware x part of at most shard_size scenarios).


rule estimate_shard:
    input:
        spec=experiment_inputs,
        profiles="results/calibration/profiles/{hardware}.json",
    output:
        estimates="results/estimates/experiment={experiment}/hardware={hardware}/part-{part}.parquet",
        operators="results/operators/experiment={experiment}/hardware={hardware}/part-{part}.parquet",
    params:
        code=GENZ_FINGERPRINT,
        schema=SCHEMA_VERSION,
        shard_size=config["shard_size"],
    log:
        "results/logs/estimate_shard/{experiment}/{hardware}/part-{part}.log",
    benchmark:
        "results/benchmarks/estimate_shard/{experiment}/{hardware}/part-{part}.tsv"
    script:
        "../scripts/estimate_shard.py"
