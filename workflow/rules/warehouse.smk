# The warehouse: the single writer of results/warehouse.duckdb. The file is built aside and renamed
# into place by genz.store.warehouse.build; the rule's declared output is a stamp next to it, because
# Snakemake deletes a job's outputs before re-running it and the previous warehouse must survive
# a failed or killed rebuild. Its parquet inputs pass through `intact` (common.smk): a truncated or
# deleted shard is rebuilt, not trusted or forgotten.


rule warehouse:
    input:
        estimates=intact(shard_paths("estimates")),
        operators=intact(shard_paths("operators")),
        measurements=MEASUREMENT_FILES,
        profiles="results/calibration/profiles.json",
        validation=VALIDATION_STAMP,
        requirements=intact(requirement_paths("requirements")),
        deployments=intact(requirement_paths("deployments")),
        frontier=intact(frontier_paths()),
    output:
        stamp=WAREHOUSE_STAMP,
    log:
        "results/logs/warehouse.log",
    benchmark:
        "results/benchmarks/warehouse.tsv"
    localrule: True
    conda:
        "../envs/genz.yaml"
    threads: 1
    resources:
        mem_mb=4000,
    params:
        code=GENZ_FINGERPRINT,
        schema=SCHEMA_VERSION,
        experiments=list(EXPERIMENTS),
        db=config["warehouse"],
        validation=VALIDATION,
    script:
        "../scripts/warehouse.py"
