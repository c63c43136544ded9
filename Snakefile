# genz: experiment grids -> estimates -> calibrated warehouse -> HTML reports.
#   snakemake --cores 32 reports/all
# Rules are thin adapters (workflow/scripts/*.py); the logic lives in the genz package.
from snakemake.utils import min_version

min_version("9.0")


configfile: "config/config.yaml"


include: "workflow/rules/common.smk"
include: "workflow/rules/calibration.smk"
include: "workflow/rules/estimate.smk"
include: "workflow/rules/requirements.smk"
include: "workflow/rules/frontier.smk"
include: "workflow/rules/warehouse.smk"
include: "workflow/rules/reports.smk"


rule all:
    default_target: True
    input:
        config["reports"],
