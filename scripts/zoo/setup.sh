#!/usr/bin/env bash
# Makes the model zoo's Python environment (torch, torchvision, timm, transformers, onnx) from
# the machine's Python package index, cached outside git, and exports the zoo into it.
#   bash scripts/zoo/setup.sh [--set public|extra|all] [--only NAME,...] [--force]
# KILN_ZOO_DIR (default ~/.cache/kiln/zoo) holds venv/ and models/.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
zoo="${KILN_ZOO_DIR:-$HOME/.cache/kiln/zoo}"
mkdir -p "$zoo"
stamp="$zoo/venv/.requirements"
if ! cmp -s "$here/requirements.txt" "$stamp" 2>/dev/null; then
  rm -rf "$zoo/venv"
  python3 -m venv "$zoo/venv"
  # --retries 0: an index this machine cannot reach is skipped at once, not retried.
  "$zoo/venv/bin/pip" install --quiet --retries 0 --timeout 30 -r "$here/requirements.txt"
  cp "$here/requirements.txt" "$stamp"
fi
"$zoo/venv/bin/python" "$here/export.py" "$zoo/models" "$@"
