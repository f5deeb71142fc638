#!/usr/bin/env bash
# Runs Kiln's whole test suite: unit tests next to the code and e2e tests in test/, against the
# real PostgreSQL and Redis on this machine, an S3 protocol server on loopback, real clang and
# the sandbox. Installs what is missing first (toolchains, npm packages) and starts local
# services that are not running. Pass file names to run only some tests.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-toolchains.sh
bash scripts/services.sh
bash scripts/install-deps.sh
npm run --silent build

if [ $# -gt 0 ]; then
  files=("$@")
else
  mapfile -t files < <(find dist/src dist/workers dist/scripts dist/test dist/compiler dist/clients dist/console -name '*.spec.js' -o -name '*.e2e-spec.js' | sort)
fi
exec node --enable-source-maps --test --test-concurrency=1 --test-timeout=600000 "${files[@]}"
