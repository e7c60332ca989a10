#!/usr/bin/env bash
# Run a command with no network: `scripts/offline.sh .ci/run`. The command gets a network namespace of its
# own with only the loopback interface up (servers on 127.0.0.1 work; nothing else is reachable).
# Needs root or CAP_SYS_ADMIN (CI runs in a privileged container). Set-up must have run before, online.
set -euo pipefail
if [ $# -eq 0 ]; then echo "usage: scripts/offline.sh COMMAND [ARGS...]" >&2; exit 2; fi
exec unshare --net -- bash -c '
  set -euo pipefail
  ip link set lo up
  others=$(ip -o link show | awk -F": " "\$2 != \"lo\" {print \$2}")
  if [ -n "$others" ]; then echo "offline.sh: network interfaces besides lo: $others" >&2; exit 1; fi
  exec "$@"' offline.sh "$@"
