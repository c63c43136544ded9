# The warehouse: the single writer of results/warehouse.duckdb. The file is built aside and renamed
# into place by genz.store.warehouse.build; the rule's declared output is a stamp next to it, because
# Snakemake deletes a job's outputs before re-running it and the previous warehouse must survive
# a failed or killed rebuild.


rule warehouse:
    input:
        estimates=shard_paths("estimates"),
        operators=shard_paths("operators"),
        measurements=MEASUREMENT_FILES,
        profiles="results/calibration/profiles.json",
        validation=VALIDATION_STAMP,
        requirements=requirement_paths("requirements"),
        deployments=requirement_paths("deployments"),
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
