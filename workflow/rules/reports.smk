# HTML reports rendered from the warehouse (read-only); self-contained, work from file://.


rule reports:
    input:
        warehouse=WAREHOUSE_STAMP,
        templates=sorted(str(p) for p in Path("reports/templates").glob("*")),
    output:
        report(directory(config["reports"]), htmlindex="index.html", category="Reports"),
    params:
        code=GENZ_FINGERPRINT,
        db=config["warehouse"],
    localrule: True
    log:
        "results/logs/reports.log",
    script:
        "../scripts/render_reports.py"


onsuccess:
    from genz.report.reporting import run_summary

    print(run_summary(config["warehouse"], config["reports"], time.time() - START_TIME))
