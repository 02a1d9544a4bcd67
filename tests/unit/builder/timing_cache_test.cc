#include "builder/timing_cache.h"

#include <gtest/gtest.h>

#include "core/error.h"

namespace kiln::builder {
namespace {

TEST(TimingCache, RoundTripsThroughJson) {
  TimingCache c;
  c.put("avx2|Conv|k", TimingEntry{"Conv.im2col_gemm", 0.25});
  c.put("avx2|MatMul|m", TimingEntry{"MatMul.ref", 1.5});
  TimingCache d = TimingCache::deserialize(c.serialize());
  EXPECT_EQ(d.size(), 2u);
  EXPECT_EQ(d.find("avx2|Conv|k")->tactic, "Conv.im2col_gemm");
  EXPECT_DOUBLE_EQ(d.find("avx2|MatMul|m")->ms, 1.5);
  EXPECT_FALSE(d.find("other").has_value());
}

TEST(TimingCache, RejectsForeignText) {
  EXPECT_THROW(TimingCache::deserialize(""), Error);
  EXPECT_THROW(TimingCache::deserialize("{not json"), Error);
  EXPECT_THROW(TimingCache::deserialize("{\"format\":\"other\"}"), Error);
  EXPECT_THROW(TimingCache::deserialize("{\"format\":\"kiln-timing-cache\",\"version\":9,\"entries\":{}}"), Error);
  EXPECT_THROW(TimingCache::deserialize("{\"format\":\"kiln-timing-cache\",\"version\":1,\"entries\":{\"k\":3}}"), Error);
}

TEST(TimingCache, KeyDependsOnShapesAttributesAndIsa) {
  ir::Graph g;
  ir::Value* x = g.addValue("x", DType::kFLOAT, ir::Shape{1, 3, 8, 8});
  ir::Value* y = g.addValue("y", DType::kFLOAT, ir::Shape{1, 3, 8, 8});
  ir::Node* n = g.addNode("Relu", "r", {x}, {y});
  std::string k1 = TimingCache::keyOf(*n, "avx2");
  EXPECT_NE(k1, TimingCache::keyOf(*n, "avx512"));
  n->attrs["alpha"] = 0.5f;
  std::string k2 = TimingCache::keyOf(*n, "avx2");
  EXPECT_NE(k1, k2);
  x->shape = ir::Shape{2, 3, 8, 8};
  EXPECT_NE(k2, TimingCache::keyOf(*n, "avx2"));
  n->name = "renamed";  // the name is not part of the signature
  x->shape = ir::Shape{1, 3, 8, 8};
  EXPECT_EQ(k2, TimingCache::keyOf(*n, "avx2"));
}

TEST(TimingCache, MergeKeepsBothSides) {
  TimingCache a, b;
  a.put("k1", {"t1", 1});
  b.put("k2", {"t2", 2});
  a.merge(b);
  EXPECT_EQ(a.size(), 2u);
}

}  // namespace
}  // namespace kiln::builder
