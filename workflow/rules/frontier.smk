# Serving frontier (throughput per GPU vs interactivity) for experiments that enable it
# (frontier: {enabled: true}): one sweep job per experiment.


rule frontier:
    input:
        spec=experiment_inputs,
        profiles="results/calibration/profiles.json",
    output:
        "results/frontier/experiment={experiment}/frontier.parquet",
    log:
        "results/logs/frontier/{experiment}.log",
    benchmark:
        "results/benchmarks/frontier/{experiment}.tsv"
    conda:
        "../envs/genz.yaml"
    threads: 1
    resources:
        mem_mb=2000,
    params:
        code=GENZ_FINGERPRINT,
        schema=SCHEMA_VERSION,
    script:
        "../scripts/frontier.py"
