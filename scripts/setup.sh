#!/usr/bin/env bash
# One home for set-up: Debian packages the tests need, the virtual environment, the pinned
# Python packages and opslab itself. Idempotent and quick when nothing changed.
set -euo pipefail
cd "$(dirname "$0")/.."
# Readable by others whatever the caller's umask: the grader's sandbox user runs this environment.
umask 022
VENV=${VENV:-.venv}
PYTHON=${PYTHON:-python3}
REQUIREMENTS=${REQUIREMENTS:-requirements.txt}  # scripts/try_newest.py passes the newest releases instead

# 1. Debian packages (needs root or sudo; otherwise says what to install).
missing=()
for pkg in $(sed -e 's/#.*//' scripts/system-packages.txt); do
  dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then SUDO=""; elif command -v sudo >/dev/null; then SUDO="sudo"; else SUDO="none"; fi
  if [ "$SUDO" = none ]; then
    echo "setup: please install these Debian packages: ${missing[*]}" >&2
    exit 1
  fi
  echo "setup: installing Debian packages: ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# 2. The virtual environment with the pinned packages ($REQUIREMENTS) and opslab (editable).
stamp="$VENV/.opslab-installed"
if [ ! -x "$VENV/bin/python" ]; then
  echo "setup: creating $VENV"
  "$PYTHON" -m venv "$VENV"
fi
if [ ! -f "$stamp" ] || [ "$REQUIREMENTS" -nt "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  pip_install() {  # quiet, minus one harmless warning some machines' pip configuration prints per package
    "$VENV/bin/python" -m pip install -q "$@" 2> >(grep -v "^WARNING: Location .* is ignored" >&2)
  }
  # Pins already satisfied (say, after a pull that touched pyproject.toml): re-install opslab without
  # the network, so `make test` still works offline. Anything missing: the full install below.
  if "$VENV/bin/python" -m pip install -q --no-index -r "$REQUIREMENTS" >/dev/null 2>&1 &&
     "$VENV/bin/python" -m pip install -q --no-index --no-build-isolation --no-deps -e . >/dev/null 2>&1; then
    echo "setup: the pinned requirements were already in $VENV; opslab re-installed without the network"
  else
    echo "setup: installing pinned requirements into $VENV (a few minutes the first time)"
    pip_install --upgrade pip
    pip_install -r "$REQUIREMENTS"
    pip_install --no-deps -e .
  fi
  touch "$stamp"
fi
