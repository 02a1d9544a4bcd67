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

//! A KilnAttention with views: `attrs` on the node before inference.
Value* viewed(Graph& g, Shape q, Shape k, Shape v, std::map<std::string, Attribute> attrs) {
  Value* y = g.addValue("y");
  Node* n = g.addNode("KilnAttention", "attn",
                      {g.addValue("q", DType::kFLOAT, std::move(q)), g.addValue("k", DType::kFLOAT, std::move(k)),
                       g.addValue("v", DType::kFLOAT, std::move(v))},
                      {y});
  n->attrs = std::move(attrs);
  inferNode(*n);
  return y;
}

TEST(KilnAttentionSchema, ViewsGiveTheLogicalShapesAndYsLayout) {
  using Ints = std::vector<int64_t>;
  Dim b(std::string("batch"));
  // BERT: [B, S, H, D] read as [B, H, S, D]; y written as [B, S, H, D]. Symbolic batch passes.
  Graph g;
  Value* y = viewed(g, Shape{b, 7, 12, 64}, Shape{b, 9, 12, 64}, Shape{b, 9, 12, 32},
                    {{"q_perm", Ints{0, 2, 1, 3}}, {"k_perm", Ints{0, 2, 1, 3}}, {"v_perm", Ints{0, 2, 1, 3}},
                     {"y_perm", Ints{0, 2, 1, 3}}});
  EXPECT_EQ(y->shape, (Shape{b, 7, 12, 32}));
  // torch MHA's packed [S, B, 3, H, D]: selects on dim 2, y as [S, B, H, D].
  Graph p;
  std::map<std::string, Attribute> packed = {{"y_perm", Ints{1, 2, 0, 3}}};
  for (int i = 0; i < 3; ++i) {
    const std::string w(1, "qkv"[i]);
    packed[w + "_perm"] = Ints{1, 2, 0, 3};
    packed[w + "_select"] = Ints{2, i};
  }
  EXPECT_EQ(viewed(p, Shape{197, 2, 3, 12, 64}, Shape{197, 2, 3, 12, 64}, Shape{197, 2, 3, 12, 64}, packed)->shape,
            (Shape{197, 2, 12, 64}));
}

TEST(KilnAttentionSchema, BadViewsNameTheField) {
  using Ints = std::vector<int64_t>;
  auto fails = [](std::map<std::string, Attribute> attrs, const std::string& what) {
    Graph g;
    try {
      viewed(g, Shape{2, 5, 3, 8}, Shape{2, 5, 3, 8}, Shape{2, 5, 3, 8}, std::move(attrs));
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(what), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find("KilnAttention node \"attn\""), std::string::npos) << e.what();
      return;
    }
    ADD_FAILURE() << "no error for " << what;
  };
  fails({{"q_perm", Ints{0, 2, 1}}}, "the perm has 3 entries for 4 dims");
  fails({{"k_perm", Ints{0, 1, 1, 3}}}, "is not a permutation");
  fails({{"v_perm", Ints{0, 3, 2, 1}}}, "head dim");
  fails({{"q_select", Ints{1, 5}}, {"q_perm", Ints{0, 1, 2}}}, "q_select index 5");
  fails({{"y_perm", Ints{0, 1, 2}}}, "y: the perm has 3 entries");
  fails({{"k_select", Ints{1}}}, "must be [axis, index]");
}

}  // namespace
}  // namespace kiln::ir
