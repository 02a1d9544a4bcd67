#include "core/host_buffer.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <limits>
#include <string>

#include "core/error.h"

namespace kiln {
namespace {

TEST(HostBuffer, AlignedAndWritable) {
  for (std::size_t bytes : {std::size_t{0}, std::size_t{1}, std::size_t{63}, std::size_t{64}, std::size_t{65},
                            std::size_t{5} << 20}) {
    std::shared_ptr<void> p = allocHostBuffer(bytes, "a test buffer");
    ASSERT_NE(p, nullptr) << bytes;
    EXPECT_EQ(reinterpret_cast<uintptr_t>(p.get()) % 64, 0u) << bytes;
    std::memset(p.get(), 0xab, bytes ? (bytes + 63) / 64 * 64 : 64);  // the rounded size is usable
  }
}

TEST(HostBuffer, OutOfMemoryNamesTheBuffer) {
  try {
    allocHostBuffer(std::numeric_limits<std::size_t>::max() - 8, "an activation arena");
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("out of memory allocating an activation arena"), std::string::npos)
        << e.what();
  }
}

}  // namespace
}  // namespace kiln
