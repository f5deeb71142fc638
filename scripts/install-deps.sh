#!/usr/bin/env bash
# Installs the npm packages from the lock file when node_modules is missing or older than it.
set -euo pipefail
cd "$(dirname "$0")/.."
# onnxruntime-node's install script would fetch GPU binaries from outside the registry;
# its CPU binaries ship in the package.
export ONNXRUNTIME_NODE_INSTALL=skip
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund
fi
