#!/usr/bin/env bash
# Checks deploy/authd.service with systemd's own tools: `verify` must print nothing (no unknown
# or misspelt option, no bad value) and the offline security analysis must stay at or below 2.0.
# Run by .ci/run; needs systemd-analyze (Debian's systemd package) and the built binary in $1.
set -euo pipefail
bin=${1:?usage: deploy/check.sh PATH_TO_AUTHD_BINARY}
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
sed "s#/usr/local/bin/authd#$bin#" "$here/authd.service" > "$work/authd.service"
# The hash and CAPTCHA threads lower their own priority with these calls (docs/deploy.md); a
# filter that denies them ends the process with SIGSYS, which neither `verify` nor `security`
# reports. The last filter line naming the call, or a group holding it, must allow it.
for call in setpriority sched_setscheduler; do
  last=$(grep -E '^SystemCallFilter=' "$here/authd.service" \
    | grep -E "(@resources|@system-service|[= ]$call( |\$))" | tail -1)
  case "$last" in
    SystemCallFilter=~*)
      echo "deploy/authd.service denies $call (last: $last): authd would be killed" >&2
      exit 1 ;;
  esac
done
out=$(systemd-analyze verify --man=no "$work/authd.service" 2>&1 || true)
if [ -n "$out" ]; then
  echo "systemd-analyze verify found problems in deploy/authd.service:" >&2
  echo "$out" >&2
  exit 1
fi
systemd-analyze security --offline=true --threshold=20 "$work/authd.service" | tail -1
