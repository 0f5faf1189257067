#!/usr/bin/env bash
# Runs the static binary the way deploy/Dockerfile's image runs it, for
# machines with no container runtime (CI here has the docker client but no
# daemon, and no registry for the base images): as user 65532 with no
# capabilities and no new privileges, the root filesystem read-only, only
# the data directory writable (a private mount namespace stands in for the
# container's), the image's environment and nothing else. Then it logs in,
# reads and writes a setting, and stops the server with SIGTERM: the server
# must need nothing writable but its volume, and drain and exit 0.
#
#   sudo deploy/container-check.sh path/to/static/bizsec
set -euo pipefail
[ "$(id -u)" = 0 ] || { echo "container-check: needs root (a mount namespace and setpriv)"; exit 1; }
pid=""
work=$(mktemp -d)
chmod 0711 "$work" # the user can reach its volume, and list nothing else
bin=$work/bizsec # as in the image: a binary the user may run, wherever the build left it
install -m 0755 "$1" "$bin"
trap 'if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; fi; rm -rf "$work"' EXIT
data=$work/data
mkdir -m 0700 "$data"
chown 65532:65532 "$data"
port=$((20000 + RANDOM % 20000))
ops=$((port + 1))
# The Dockerfile's ENV, on loopback ports; a tenant so that there is someone to log in as.
unshare --mount --propagation private sh -c "
  mount --bind '$data' '$data'
  mount -o remount,bind,ro /
  exec setpriv --reuid 65532 --regid 65532 --clear-groups --inh-caps=-all --bounding-set=-all --no-new-privs \
    env -i BIZSEC_DATA='$data' BIZSEC_LISTEN=127.0.0.1:$port BIZSEC_OPS_LISTEN=127.0.0.1:$ops \
      BIZSEC_BOOTSTRAP_TENANT=demo '$bin' serve" >"$work/out" 2>"$work/log" &
pid=$!
for _ in $(seq 100); do
  curl -fsS "http://127.0.0.1:$ops/readyz" >/dev/null 2>&1 && break
  kill -0 "$pid" 2>/dev/null || { cat "$work/log"; echo "container-check: the server exited"; exit 1; }
  sleep 0.1
done
curl -fsS "http://127.0.0.1:$ops/readyz"; echo
password=$(awk '/password:/{print $2}' "$work/out")
[ -n "$password" ] || { cat "$work/out" "$work/log"; echo "container-check: no first-start password"; exit 1; }
base=http://127.0.0.1:$port
curl -fsS -c "$work/jar" -H 'Content-Type: application/json' \
  -d "{\"email\":\"admin@demo.example\",\"password\":\"$password\"}" "$base/api/login" >/dev/null
csrf=$(awk '$6=="Csrf-Token_demo"{print $7}' "$work/jar")
curl -fsS -b "$work/jar" -X PUT -H 'Content-Type: application/json' -H "X-Csrf-Token_demo: $csrf" \
  -d '{"AttemptsPeriod":"9"}' "$base/api/businesses/tenantbusiness.demo/loginpolicy" >/dev/null
curl -fsS -b "$work/jar" "$base/api/businesses/tenantbusiness.demo/loginpolicy" | grep -q '"AttemptsPeriod":"9"' ||
  { echo "container-check: the write did not read back"; exit 1; }
# Nothing but the volume was written: the root is read-only, so a write elsewhere would have failed the server.
if grep -qi 'read-only file system' "$work/log"; then cat "$work/log"; exit 1; fi
kill -TERM "$pid"
wait "$pid" || { cat "$work/log"; echo "container-check: SIGTERM did not end the server cleanly"; exit 1; }
ls -la "$data"
echo "container-check: ok (uid 65532, read-only root, only $data written, drained on SIGTERM)"
