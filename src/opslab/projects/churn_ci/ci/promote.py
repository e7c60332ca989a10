"""Promote the challenger: `python ci/promote.py [--store sqlite:///mlruns.db]`.

When a champion exists, the challenger must first pass the promotion gate, `promotion_gate` in
ci/promotion.py: both models are scored on the same holdout (data/prepared/test.csv, the current
commit's test split) under the rules of params.yaml's `promote` section. A refusal exits 1 with one
`promote: refused:` line naming every broken rule, and nothing moves. Otherwise `@champion` moves to
the challenger's version and champion.json (its version, run and metrics) is written, which the next
CI runs compare against. Commit champion.json: the promotion is then reviewed like any change, and
reverting that commit is the rollback of the gate's baseline. Exit 2: promotion cannot be decided.
"""

import argparse
import json
import sys
from pathlib import Path

import mlflow
import pandas as pd
import yaml
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

sys.path.insert(0, str(Path(__file__).resolve().parent))
from promotion import promotion_gate  # noqa: E402

MODEL_NAME = "churn-ci"
HOLDOUT = Path("data/prepared/test.csv")


def stop(message: str, status: int = 2) -> None:
    print(f"promote: {message}", file=sys.stderr)
    sys.exit(status)


parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--store", default="sqlite:///mlruns.db")
args = parser.parse_args()
client = MlflowClient(args.store, registry_uri=args.store)
try:
    challenger = client.get_model_version_by_alias(MODEL_NAME, "challenger")
except MlflowException:
    stop(f"no {MODEL_NAME}@challenger in {args.store}: run `python ci/run.py` first")
try:
    champion = client.get_model_version_by_alias(MODEL_NAME, "champion")
except MlflowException:
    champion = None  # a fresh registry: the first challenger becomes the first champion

if champion is not None:
    if not HOLDOUT.exists():
        stop(f"{HOLDOUT} is missing: run `dvc repro` first (both models are scored on it)")
    rules = (yaml.safe_load(Path("params.yaml").read_text()) or {}).get("promote")
    if not isinstance(rules, dict):
        stop("params.yaml has no `promote` section (the promotion gate's rules)")
    mlflow.set_registry_uri(args.store)
    models = {alias: mlflow.sklearn.load_model(f"models:/{MODEL_NAME}@{alias}") for alias in ("challenger", "champion")}
    passed, reasons = promotion_gate(models["challenger"], models["champion"], pd.read_csv(HOLDOUT), rules)
    if not passed:
        stop(f"refused: version {challenger.version} stays @challenger, version {champion.version} stays "
             "@champion: " + "; ".join(reasons), status=1)
    print(f"promote: the promotion gate passed (version {challenger.version} against version {champion.version})")

client.set_registered_model_alias(MODEL_NAME, "champion", challenger.version)
run = client.get_run(challenger.run_id)
record = {"version": challenger.version, "run_id": challenger.run_id,
          "git_commit": run.data.tags.get("git.commit"), "metrics": run.data.metrics}
Path("champion.json").write_text(json.dumps(record, indent=2, sort_keys=True) + "\n")
print(f"{MODEL_NAME} version {challenger.version} is @champion; champion.json updated: commit it")
