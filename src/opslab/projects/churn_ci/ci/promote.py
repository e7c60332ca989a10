"""Promote the challenger: `python ci/promote.py [--store sqlite:///mlruns.db]`.

Moves `@champion` to the version `@challenger` points at and writes champion.json (its version,
run and metrics), which the next CI runs compare against. Commit champion.json: the promotion is
then reviewed like any change, and reverting that commit is the rollback of the gate's baseline.
"""

import argparse
import json
from pathlib import Path

from mlflow import MlflowClient

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--store", default="sqlite:///mlruns.db")
args = parser.parse_args()
client = MlflowClient(args.store, registry_uri=args.store)
challenger = client.get_model_version_by_alias("churn-ci", "challenger")
client.set_registered_model_alias("churn-ci", "champion", challenger.version)
run = client.get_run(challenger.run_id)
champion = {"version": challenger.version, "run_id": challenger.run_id,
            "git_commit": run.data.tags.get("git.commit"), "metrics": run.data.metrics}
Path("champion.json").write_text(json.dumps(champion, indent=2, sort_keys=True) + "\n")
print(f"churn-ci version {challenger.version} is @champion; champion.json updated: commit it")
