# SLO requirement search for experiments that enable it (requirements: {enabled: true}).


rule requirements:
    input:
        spec=experiment_inputs,
        profiles="results/calibration/profiles.json",
    output:
        requirements="results/requirements/experiment={experiment}/requirements.parquet",
        deployments="results/requirements/experiment={experiment}/deployments.parquet",
    params:
        code=GENZ_FINGERPRINT,
        schema=SCHEMA_VERSION,
    log:
        "results/logs/requirements/{experiment}.log",
    benchmark:
        "results/benchmarks/requirements/{experiment}.tsv"
    script:
        "../scripts/requirements.py"
