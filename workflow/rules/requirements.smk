# SLO requirement search for experiments that enable it (requirements: {enabled: true}).


rule requirements:
    input:
        spec=experiment_inputs,
        profiles=published_profiles,
        files=grid_files,
    output:
        requirements="results/requirements/experiment={experiment}/requirements.parquet",
        deployments="results/requirements/experiment={experiment}/deployments.parquet",
    log:
        "results/logs/requirements/{experiment}.log",
    benchmark:
        "results/benchmarks/requirements/{experiment}.tsv"
    conda:
        "../envs/genz.yaml"
    threads: 1
    resources:
        mem_mb=2000,
    params:
        code=GENZ_FINGERPRINT,
        schema=SCHEMA_VERSION,
    script:
        "../scripts/requirements.py"
