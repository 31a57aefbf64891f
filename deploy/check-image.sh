#!/usr/bin/env bash
# Runs the binary the way deploy/Dockerfile's image runs it, without a container engine (none is
# reachable in CI, and neither are the base images): the ENV, USER, WORKDIR, VOLUME and CMD are
# read from the Dockerfile itself, the root file system is mounted read-only (bubblewrap), the
# process runs as uid/gid 10001 with no other groups, /tmp is a tmpfs and the volume
# (/var/lib/authd) is the only writable place. Passes when `serve` starts, answers /healthz,
# keeps its database and generated master key in the volume (0600), and wrote nothing else.
# What this does not check: the build stage (cargo in the Rust image) and the Debian base image.
# Run by .ci/run; needs bwrap and setpriv (Debian: bubblewrap, util-linux) and the binary in $1.
set -euo pipefail
bin=$(realpath "${1:?usage: deploy/check-image.sh PATH_TO_AUTHD_BINARY}")
here=$(cd "$(dirname "$0")" && pwd)
dockerfile="$here/Dockerfile"
vol=$(mktemp -d)
log=$(mktemp)
# Killing bubblewrap leaves the server it started running: the server is stopped by its own pid.
trap 'kill $server $pid 2>/dev/null || true; rm -rf "$vol" "$log"' EXIT
pid=
server=

# The image's settings, from the Dockerfile (one `ENV a=b \` block, USER, WORKDIR, CMD).
user=$(sed -n 's/^USER \([0-9]*\):\([0-9]*\)$/\1:\2/p' "$dockerfile")
workdir=$(sed -n 's/^WORKDIR \(\/var\/lib\/authd\)$/\1/p' "$dockerfile")
cmd=$(sed -n 's/^CMD \["\([a-z]*\)"\]$/\1/p' "$dockerfile")
mapfile -t envs < <(sed -n '/^ENV /,/[^\\]$/p' "$dockerfile" | sed 's/^ENV //; s/\\$//; s/^ *//; s/ *$//' | grep '=')
[ "$user" = "10001:10001" ] || { echo "Dockerfile: USER is not 10001:10001 ($user)" >&2; exit 1; }
[ "$workdir" = "/var/lib/authd" ] || { echo "Dockerfile: WORKDIR is not the volume" >&2; exit 1; }
grep -q '^VOLUME \["/var/lib/authd"\]$' "$dockerfile" || { echo "Dockerfile: no volume" >&2; exit 1; }
[ "${#envs[@]}" -ge 3 ] || { echo "Dockerfile: ENV not found" >&2; exit 1; }

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
env_args=()
for kv in "${envs[@]}"; do
  case $kv in
    AUTHD_BIND=*) env_args+=(--setenv AUTHD_BIND "127.0.0.1:$port") ;;  # the host's loopback, not 0.0.0.0
    AUTHD_METRICS_BIND=*) env_args+=(--setenv AUTHD_METRICS_BIND "127.0.0.1:0") ;;
    *) env_args+=(--setenv "${kv%%=*}" "${kv#*=}") ;;
  esac
done
chown 10001:10001 "$vol"
chmod 0700 "$vol"

bwrap --ro-bind / / --dev /dev --proc /proc --tmpfs /tmp --tmpfs /var/lib \
  --bind "$vol" /var/lib/authd --chdir "$workdir" --clearenv \
  --setenv PATH /usr/local/bin:/usr/bin:/bin --setenv AUTHD_ISSUER "http://127.0.0.1:$port" \
  "${env_args[@]}" --die-with-parent \
  setpriv --reuid 10001 --regid 10001 --clear-groups --no-new-privs "$bin" "$cmd" >"$log" 2>&1 &
pid=$!
for _ in $(seq 1 100); do
  curl -fsS "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && break
  kill -0 "$pid" 2>/dev/null || { echo "authd exited:" >&2; cat "$log" >&2; exit 1; }
  sleep 0.2
done
curl -fsS "http://127.0.0.1:$port/healthz" >/dev/null || { echo "no /healthz" >&2; cat "$log" >&2; exit 1; }
# It runs as the image's user, with no other group.
server=$(pgrep -P "$pid" -f "$bin" || true)
[ -n "$server" ] || { echo "the server process under bubblewrap was not found" >&2; exit 1; }
ids=$(ps -o uid=,gid= -p "$server" | tr -s ' ' | sed 's/^ //')
[ "$ids" = "10001 10001" ] || { echo "the server runs as uid/gid '$ids', not 10001 10001" >&2; exit 1; }
groups=$(sed -n 's/^Groups:\s*//p' "/proc/$server/status" | tr -d ' ')
[ -z "$groups" ] || { echo "the server has supplementary groups: $groups" >&2; exit 1; }
owner=$(stat -c %u:%g "$vol/authd.db")
[ "$owner" = "10001:10001" ] || { echo "the database is owned by $owner, not 10001:10001" >&2; exit 1; }
key=$(find "$vol" -maxdepth 1 -name '*.key' -printf '%m %u\n')
[ "$key" = "600 10001" ] || { echo "master key in the volume: '$key' (want 600, uid 10001)" >&2; ls -la "$vol" >&2; exit 1; }
kill "$server"
for _ in $(seq 1 50); do kill -0 "$server" 2>/dev/null || break; sleep 0.1; done
! kill -0 "$server" 2>/dev/null || { echo "the server did not stop" >&2; exit 1; }
kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true
echo "image-alike run: /healthz answered, the server runs as uid/gid $ids with no other group on a read-only root; volume holds: $(cd "$vol" && ls | tr '\n' ' ')"
