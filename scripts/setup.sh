#!/usr/bin/env bash
# Installs what Kiln needs on a fresh Debian 12 machine (apt + pip), then
# configures and builds it (Release, Ninja) in build/.
#   bash scripts/setup.sh            # deps + build
#   KILN_SKIP_BUILD=1 bash scripts/setup.sh   # deps only
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(cmake ninja-build g++ python3 python3-pip
              libonnx-dev libprotobuf-dev protobuf-compiler
              libflatbuffers-dev flatbuffers-compiler
              libcli11-dev nlohmann-json3-dev libgtest-dev googletest
              libdnnl-dev)  # oneDNN: optional CPU tactic source (Conv/MatMul/Gemm .onednn)
# Pinned Python packages: the reference (ONNX Runtime) and the model makers.
# nanobind builds the Python package kiln (python/), pytest runs its tests.
# openvino is the benchmark's second peer (bench/run_cpu.py, docs/benchmarks.md).
PIP_PACKAGES=(onnx==1.17.0 onnxruntime==1.32.0 numpy nanobind==2.9.2 pytest==8.4.2 openvino==2026.4.1)

missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi

PY=${PYTHON:-python3}
if ! $PY - <<'PYEOF' 2>/dev/null
import onnx, onnxruntime, numpy, nanobind, pytest, openvino
assert onnx.__version__ == "1.17.0", onnx.__version__
assert openvino.__version__.startswith("2026.4.1"), openvino.__version__
assert nanobind.__version__ == "2.9.2", nanobind.__version__
assert pytest.__version__ == "8.4.2", pytest.__version__
PYEOF
then
  echo "setup: installing ${PIP_PACKAGES[*]}"
  $PY -m pip install -q --disable-pip-version-check "${PIP_PACKAGES[@]}" 2>&1 | grep -v "Running pip as the 'root' user" || true
fi

if [ -z "${KILN_SKIP_BUILD:-}" ]; then
  cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release -DPython3_EXECUTABLE="$(command -v $PY)" >/dev/null
  cmake --build build -j "${KILN_JOBS:-2}"
fi
