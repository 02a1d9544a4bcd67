#include "core/host_buffer.h"

#include <cstdlib>

#include "core/error.h"

namespace kiln {

std::shared_ptr<void> allocHostBuffer(std::size_t bytes, const char* what) {
  std::size_t rounded = bytes ? (bytes + 63) / 64 * 64 : 64;
  KILN_CHECK(rounded >= bytes, "out of memory allocating ", what, " of ", bytes, " bytes");
  void* p = std::aligned_alloc(64, rounded);
  KILN_CHECK(p, "out of memory allocating ", what, " of ", bytes, " bytes");
  return std::shared_ptr<void>(p, [](void* q) { std::free(q); });
}

}  // namespace kiln
