// Shape inference of the internal KilnAttention op (src/ir/ops/kiln.cc): the
// contract the attention fusion and every backend's kernel share.
#include <gtest/gtest.h>

#include "core/error.h"
#include "ir/graph.h"
#include "ir/op_schema.h"

namespace kiln::ir {
namespace {

Value* attention(Graph& g, Shape q, Shape k, Shape v, const Shape* mask = nullptr, DType type = DType::kFLOAT,
                 DType maskType = DType::kFLOAT) {
  std::vector<Value*> in = {g.addValue("q", type, std::move(q)), g.addValue("k", type, std::move(k)),
                            g.addValue("v", type, std::move(v))};
  if (mask) in.push_back(g.addValue("mask", maskType, *mask));
  Value* y = g.addValue("y");
  inferNode(*g.addNode("KilnAttention", "attn", in, {y}));
  return y;
}

TEST(KilnAttentionSchema, OutputTakesQsRowsAndVsWidth) {
  Graph g;
  Shape mask{2, 1, 1, 7};
  Value* y = attention(g, Shape{2, 12, 5, 64}, Shape{2, 12, 7, 64}, Shape{2, 12, 7, 32}, &mask, DType::kHALF,
                       DType::kHALF);
  EXPECT_EQ(y->shape, (Shape{2, 12, 5, 32}));
  EXPECT_EQ(y->dtype, DType::kHALF);
  Graph g3;
  EXPECT_EQ(attention(g3, Shape{24, 197, 64}, Shape{24, 197, 64}, Shape{24, 197, 64})->shape, (Shape{24, 197, 64}));
}

TEST(KilnAttentionSchema, SymbolicDimsPass) {
  Graph g;
  Dim b(std::string("batch")), s(std::string("seq"));
  Value* y = attention(g, Shape{b, 4, s, 16}, Shape{b, 4, s, 16}, Shape{b, 4, s, 16});
  EXPECT_EQ(y->shape, (Shape{b, 4, s, 16}));
}

TEST(KilnAttentionSchema, MismatchesNameTheField) {
  auto message = [](auto make) {
    try {
      make();
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  Graph g1, g2, g3, g4, g5;
  EXPECT_NE(message([&] { attention(g1, Shape{1, 2, 5, 64}, Shape{1, 2, 7, 32}, Shape{1, 2, 7, 32}); })
                .find("head sizes of Q and K"),
            std::string::npos);
  EXPECT_NE(message([&] { attention(g2, Shape{1, 2, 5, 8}, Shape{1, 2, 7, 8}, Shape{1, 2, 6, 8}); })
                .find("key lengths of K and V"),
            std::string::npos);
  EXPECT_NE(message([&] { attention(g3, Shape{1, 2, 5, 8}, Shape{1, 3, 7, 8}, Shape{1, 3, 7, 8}); })
                .find("leading dims of Q and K"),
            std::string::npos);
  Shape badMask{1, 1, 5, 6};
  EXPECT_NE(message([&] { attention(g4, Shape{1, 2, 5, 8}, Shape{1, 2, 7, 8}, Shape{1, 2, 7, 8}, &badMask); })
                .find("attn"),
            std::string::npos);
  EXPECT_NE(message([&] {
              attention(g5, Shape{1, 2, 5, 8}, Shape{1, 2, 7, 8}, Shape{1, 2, 7, 8}, nullptr, DType::kINT32);
            }).find("float type"),
            std::string::npos);
}

}  // namespace
}  // namespace kiln::ir
