#!/usr/bin/env bash
# Generates the ONNX 1.23 backend node test suite (model.onnx and test data per case) from the
# `onnx` Python package's own case generators, into a cache outside git, for
#   npm run conformance -- --suite onnx-1.23
#   bash scripts/onnx-suite.sh [--force]
# KILN_ONNX_SUITE_DIR (default ~/.cache/kiln/onnx-suite-1.23) receives node/<case>/.
# Python: the model zoo's environment (scripts/zoo/setup.sh, KILN_ZOO_DIR) when it has onnx 1.23;
# otherwise a small one made here with only onnx and numpy, pinned as scripts/zoo/requirements.txt pins them.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
out="${KILN_ONNX_SUITE_DIR:-$HOME/.cache/kiln/onnx-suite-1.23}"
zoo="${KILN_ZOO_DIR:-$HOME/.cache/kiln/zoo}"
want="$(grep -E '^onnx==' "$here/zoo/requirements.txt" | cut -d= -f3)"
case "$want" in 1.23.*) ;; *) echo "scripts/zoo/requirements.txt pins onnx $want, not 1.23.x" >&2; exit 1 ;; esac
if [ "${1:-}" != "--force" ] && grep -qx "onnx $want" "$out/VERSION" 2>/dev/null; then
  echo "$out already holds onnx $want's cases ($(sed -n 2p "$out/VERSION")); --force regenerates"
  exit 0
fi
has_onnx() { "$1" -c "import onnx, numpy, sys; sys.exit(onnx.__version__ != '$want')" 2>/dev/null; }
python="$zoo/venv/bin/python"
if ! has_onnx "$python"; then
  python="$out/venv/bin/python"
  if ! has_onnx "$python"; then
    rm -rf "$out/venv"
    python3 -m venv "$out/venv"
    "$out/venv/bin/pip" install --quiet --retries 0 --timeout 30 $(grep -E '^(onnx|numpy)==' "$here/zoo/requirements.txt")
  fi
fi
rm -rf "$out/node" "$out/VERSION"
"$python" -W ignore "$here/onnx-suite.py" "$out"
