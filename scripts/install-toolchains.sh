#!/usr/bin/env bash
# Installs the compilers, cross sysroots, emulators and sandbox that Kiln's workers use,
# from Debian packages only, plus what the tests need (the ONNX test data and Chromium for the
# web console's browser tests) unless called with --runtime. Idempotent: packages already
# present are skipped, and apt is only touched when something is missing. Used by
# scripts/start.sh and scripts/test.sh (so by the README and .ci/run) and the Dockerfile.
set -euo pipefail

PACKAGES=(
  clang-19 lld-19 llvm-19
  libclang-rt-19-dev-wasm32 wasi-libc libc++-19-dev-wasm32 libc++abi-19-dev-wasm32
  gcc g++
  gcc-aarch64-linux-gnu g++-aarch64-linux-gnu libc6-dev-arm64-cross
  gcc-riscv64-linux-gnu g++-riscv64-linux-gnu libc6-dev-riscv64-cross
  gcc-arm-linux-gnueabihf g++-arm-linux-gnueabihf libc6-dev-armhf-cross
  flang-19 golang-go rustc libstd-rust-dev-wasm32 lld-14
  hipcc libamdhip64-dev
  cmake ninja-build
  qemu-user bubblewrap file time
)
TEST_PACKAGES=(libonnx-testdata chromium)
if [ "${1:-}" != "--runtime" ]; then PACKAGES+=("${TEST_PACKAGES[@]}"); fi

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "toolchains: all ${#PACKAGES[@]} packages present"
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
echo "toolchains: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
