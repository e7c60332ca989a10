#!/usr/bin/env bash
# Re-pin requirements.txt from requirements.in: resolve in a throw-away venv, then freeze it.
set -euo pipefail
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
python3 -m venv "$tmp/venv"
"$tmp/venv/bin/pip" install -q --upgrade pip
"$tmp/venv/bin/pip" install -q -r requirements.in
{
  echo "# Pinned by scripts/lock.sh from requirements.in (Python $(python3 -c 'import sys; print("%d.%d" % sys.version_info[:2])')). Do not edit by hand."
  # --all keeps setuptools (requirements.in needs it: opslab is built offline in the tests); pip stays unpinned
  "$tmp/venv/bin/pip" freeze --all --exclude-editable | grep -v '^pip=='
} > requirements.txt
echo "requirements.txt: $(grep -vc '^#' requirements.txt) pins"
