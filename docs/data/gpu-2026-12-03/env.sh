# Unpacks the carried Kiln builds and libraries (issue #7 attention work) and sets the library path.
mkdir -p /tmp/k /tmp/kold /tmp/tree /tmp/kb
tar -C /tmp -xzf .devcarry/libs.tgz
tar -C /tmp/k -xzf .devcarry/kiln_new.tgz
tar -C /tmp/tree -xzf /tmp/k/tree.tgz
tar -C /tmp/kold -xzf .devcarry/kiln_old.tgz
mkdir -p /work/wt/attn/build-cuda/examples/plugins && cp /tmp/k/kiln/plugin/libkiln_example_plugins.so /work/wt/attn/build-cuda/examples/plugins/
SP=$(python3 -c "import nvidia,os;print(os.path.dirname(list(nvidia.__path__)[0]))")
NV=$(find $SP/nvidia -maxdepth 3 -name lib -type d | tr '\n' ':')
export LD_LIBRARY_PATH=/tmp/libs:$NV${LD_LIBRARY_PATH:-}
export KILN_SOURCE_DIR=/tmp/tree PYTHONUNBUFFERED=1
NEW=/tmp/k/kiln/bin/kilnexec; OLD=/tmp/kold/kiln/bin/kilnexec
