# HTML reports rendered from the warehouse (read-only); self-contained, work from file://.


rule reports:
    input:
        warehouse=WAREHOUSE_STAMP,
        templates=REPORT_TEMPLATES,
    output:
        report(directory(config["reports"]), htmlindex="index.html", category="Reports"),
    log:
        "results/logs/reports.log",
    localrule: True
    conda:
        "../envs/genz.yaml"
    threads: 1
    resources:
        mem_mb=2000,
    params:
        code=GENZ_FINGERPRINT,
        db=config["warehouse"],
    script:
        "../scripts/render_reports.py"


onsuccess:
    print(report_summary())
