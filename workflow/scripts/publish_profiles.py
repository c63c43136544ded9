"""Checkpoint publish_profiles: each shard's profile file, rewritten only where its content changed
(genz.calibrate.publish)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir)))  # noqa: F821
from _rule import setup

setup(snakemake)  # noqa: F821
from genz.calibrate import publish  # noqa: E402

p = snakemake.params  # noqa: F821
res = publish.publish(snakemake.input.profiles, {k: (h, fws) for k, (h, fws) in p.wanted.items()}, p.folder)  # noqa: F821
for what in ("written", "removed"):
    for rel in res[what]:
        print(f"{what}: {rel}", file=sys.stderr)
print(f"{len(res['written'])} written, {len(res['unchanged'])} unchanged, {len(res['removed'])} removed",
      file=sys.stderr)
Path(snakemake.output[0]).write_text("".join(f"{k} {len(v)}\n" for k, v in res.items()))  # noqa: F821
# the input key each file is now published with (genz.calibrate.propagation), written last
publish.write_keys(p.keys_file, dict(p.profile_keys))
