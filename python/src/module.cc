// kiln._kiln: the compiled half of the Python package `kiln` (see
// python/kiln/__init__.py for the re-exports and pure-Python helpers).
#include "common.h"

NB_MODULE(_kiln, m) {
  m.doc() = "Kiln's public C++ API (include/kiln) bound with nanobind, named as tensorrt's Python API.";
  kiln::py::bindTypes(m);
  kiln::py::bindNetwork(m);
  kiln::py::bindBuilder(m);
  kiln::py::bindParser(m);
  kiln::py::bindRuntime(m);
  kiln::py::bindPlugins(m);
}
