# Unpacks the carried build (build-devcarry/kiln.tgz: kilnexec, kiln_cuda_tests and the example
# plugin at their /work/main/build paths) and the Debian libraries it links (libs.tgz: protobuf,
# onnx_proto, oneDNN, libgomp, OpenCL), and points the loader at them and at the CUDA libraries of
# the device's PyTorch wheels.
tar -C / -xzf build-devcarry/kiln.tgz
mkdir -p /tmp/libs && tar -C /tmp/libs -xzf build-devcarry/libs.tgz
SP=$(python3 -c "import nvidia,os;print(os.path.dirname(list(nvidia.__path__)[0]))")
NV=$(find $SP/nvidia -maxdepth 3 -name lib -type d | tr '\n' ':')
export LD_LIBRARY_PATH=/tmp/libs:$NV${LD_LIBRARY_PATH:-}
export KILN_SOURCE_DIR=$PWD PYTHONUNBUFFERED=1
KX=/work/main/build/tools/kilnexec/kilnexec
