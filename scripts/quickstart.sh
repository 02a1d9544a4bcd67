#!/usr/bin/env bash
# README command 1: set up, build, then build and run an engine for a bundled
# model with kilnexec, printing trtexec's performance summary.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
mkdir -p build/quickstart
./build/tools/kilnexec/kilnexec --onnx=tests/models/small_cnn.onnx --saveEngine=build/quickstart/small_cnn.plan \
  --workspace=1024 --skipInference
./build/tools/kilnexec/kilnexec --loadEngine=build/quickstart/small_cnn.plan --iterations=200 --warmUp=500
