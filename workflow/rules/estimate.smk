# Estimation: one job per shard (experiment x hardware x part of at most shard_size scenarios).
# Rows that fail the output schema are written next to the shard's log (log: failures_*; an empty
# table when none fail), and the job fails with pandera's report.


rule estimate_shard:
    input:
        spec=experiment_inputs,
        profiles=published_profile,
        files=grid_files,
    output:
        estimates="results/estimates/experiment={experiment}/hardware={hardware}/part-{part}.parquet",
        operators="results/operators/experiment={experiment}/hardware={hardware}/part-{part}.parquet",
    log:
        "results/logs/estimate_shard/{experiment}/{hardware}/part-{part}.log",
        failures_estimates="results/logs/estimate_shard/{experiment}/{hardware}/part-{part}.estimates-failures.parquet",
        failures_operators="results/logs/estimate_shard/{experiment}/{hardware}/part-{part}.operators-failures.parquet",
    benchmark:
        "results/benchmarks/estimate_shard/{experiment}/{hardware}/part-{part}.tsv"
    conda:
        "../envs/genz.yaml"
    # one thread: a shard is mostly single-threaded Python and numpy; two shards side by side
    # use two cores, where one two-thread shard left the second idle
    threads: 1
    resources:
        mem_mb=2000,
    params:
        code=GENZ_FINGERPRINT,
        schema=SCHEMA_VERSION,
        shard_size=config["shard_size"],
    script:
        "../scripts/estimate_shard.py"
