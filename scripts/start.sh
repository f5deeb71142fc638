#!/usr/bin/env bash
# Starts Kiln on one machine with its embedded defaults: installs what is missing (toolchains,
# npm packages), makes sure the local PostgreSQL and Redis run, builds, migrates, then runs the
# API and one worker until Ctrl-C. Storage is a local directory (data/objects).
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-toolchains.sh --runtime
bash scripts/services.sh
bash scripts/install-deps.sh
npm run --silent build

mkdir -p data
# A bootstrap API key for local use: made once, kept in data/, printed below.
if [ -z "${KILN_BOOTSTRAP_API_KEY:-}" ]; then
  if [ ! -s data/bootstrap-api-key ]; then
    (umask 077; node -e "process.stdout.write('kiln_local_' + require('crypto').randomBytes(24).toString('base64url'))" > data/bootstrap-api-key)
  fi
  KILN_BOOTSTRAP_API_KEY=$(cat data/bootstrap-api-key)
  export KILN_BOOTSTRAP_API_KEY
fi

node dist/scripts/migrate.js

# Least privilege: neither the API nor the worker handles tenants' files as root. The API runs as
# the user kiln; the worker starts as root only to keep a small helper for what needs root (each
# build's size-limited folder, the cgroups of its runs) and runs as kiln from then on.
api=(node dist/src/main.js)
if [ "$(id -u)" -eq 0 ]; then
  id -u kiln >/dev/null 2>&1 || useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin kiln
  if ! setpriv --reuid=kiln --regid=kiln --init-groups test -r dist/workers/main.js; then
    echo "start: the user kiln cannot read $PWD (a folder above it is closed to other users); put Kiln where others can read it" >&2
    exit 1
  fi
  mkdir -p "${KILN_STORAGE_DIR:-data/objects}"
  chown -R kiln:kiln data "${KILN_STORAGE_DIR:-data/objects}"
  api=(setpriv --reuid=kiln --regid=kiln --init-groups node dist/src/main.js)
  export KILN_WORKER_USER="${KILN_WORKER_USER:-kiln}"
fi

pids=()
cleanup() {
  trap - INT TERM EXIT
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap cleanup INT TERM EXIT

"${api[@]}" &
pids+=($!)
node dist/workers/main.js &
pids+=($!)

url="http://${KILN_HOST:-127.0.0.1}:${KILN_PORT:-8080}"
for _ in $(seq 1 100); do
  if curl -fsS "$url/healthz" >/dev/null 2>&1; then break; fi
  sleep 0.2
done
cat <<MSG

  Kiln is running at $url   (API docs: $url/docs)
  API key: $KILN_BOOTSTRAP_API_KEY

  Try:  curl -s $url/v1/targets -H "Authorization: Bearer $KILN_BOOTSTRAP_API_KEY"

MSG
# Stop everything when either process exits.
wait -n "${pids[@]}"
