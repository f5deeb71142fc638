"""Writes the ONNX backend node test cases of the installed `onnx` package into a folder.

    python scripts/onnx-suite.py OUT_DIR

Each case is OUT_DIR/node/<name>/model.onnx with test_data_set_0/input_N.pb and output_N.pb,
serialised by onnx's own `backend-test-tools generate-data` code, so the cases are exactly the
ones onnx's backend test runner uses. OUT_DIR/VERSION records the onnx version that made them.
"""

from __future__ import annotations

import argparse
import os
import sys

import onnx
import onnx.backend.test.case.node as node_cases
import onnx.backend.test.cmd_tools as cmd_tools


def main() -> None:
    if len(sys.argv) != 2:
        sys.exit("usage: onnx-suite.py OUT_DIR")
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    # generate_data writes what model_test.collect_testcases() returns; here, the node cases only
    # (the model cases are the "simple" ones Debian ships too, and the "real" ones are downloads).
    cmd_tools.model_test.collect_testcases = lambda: [c for c in node_cases.collect_testcases() if c.kind == "node"]
    cmd_tools.generate_data(argparse.Namespace(output=out))
    count = len(os.listdir(os.path.join(out, "node")))
    with open(os.path.join(out, "VERSION"), "w") as f:
        f.write(f"onnx {onnx.__version__}\n{count} node cases\n")
    print(f"onnx {onnx.__version__}: {count} node cases in {out}/node")


if __name__ == "__main__":
    main()
