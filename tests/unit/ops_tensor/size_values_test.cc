// Shape-carrying inputs computed from Shape by small integer subgraphs:
// inference follows them so that symbolic dims survive Reshape / Expand /
// ConstantOfShape before constant folding runs.
#include "unit/ops_tensor/tensor_test_util.h"

namespace kiln::test {
namespace {

using ir::Dim;
using ir::Shape;

// A graph built node by node, inferred in order.
struct Chain {
  ir::Graph g;
  ir::Value* node(const std::string& op, std::vector<ir::Value*> ins,
                  std::map<std::string, ir::Attribute> attrs = {}) {
    ir::Value* out = g.addValue(op);
    ir::Node* n = g.addNode(op, op + std::to_string(g.nodes().size()), std::move(ins), {out});
    n->attrs = std::move(attrs);
    ir::inferNode(*n);
    return out;
  }
  ir::Value* c(const std::vector<int64_t>& v) { return g.addConstant("c", ints(v)); }
  ir::Value* scalarC(int64_t v) { return g.addConstant("s", scalar<int64_t>(v)); }
};

TEST(SizeValues, TransformerStyleReshapeKeepsSymbols) {
  Chain ch;
  ir::Value* x = ch.g.addValue("x", DType::kFLOAT, sym({named("batch"), named("seq"), 768}));
  ir::Value* shape = ch.node("Shape", {x});
  ir::Value* b = ch.node("Unsqueeze", {ch.node("Gather", {shape, ch.scalarC(0)}), ch.c({0})});
  ir::Value* s = ch.node("Unsqueeze", {ch.node("Gather", {shape, ch.scalarC(1)}), ch.c({0})});
  ir::Value* target = ch.node("Concat", {b, s, ch.c({12, 64})}, {{"axis", int64_t{0}}});
  ir::Value* y = ch.node("Reshape", {x, target});
  ASSERT_EQ(y->shape.size(), 4u);
  EXPECT_EQ(y->shape[0].symbol, "batch");
  EXPECT_EQ(y->shape[1].symbol, "seq");
  EXPECT_EQ(y->shape[2], Dim(12));
  EXPECT_EQ(y->shape[3], Dim(64));
  // Merging heads back: [batch, seq, -1] infers 768 from the matching symbols.
  ir::Value* back = ch.node("Concat", {b, s, ch.c({-1})}, {{"axis", int64_t{0}}});
  ir::Value* z = ch.node("Reshape", {y, back});
  EXPECT_EQ(z->shape[2], Dim(768));
  EXPECT_EQ(z->shape[0].symbol, "batch");
}

TEST(SizeValues, SliceArithmeticAndCast) {
  Chain ch;
  ir::Value* x = ch.g.addValue("x", DType::kFLOAT, sym({named("N"), 3, 4, 5}));
  ir::Value* shape = ch.node("Shape", {x});
  ir::Value* head = ch.node("Slice", {shape, ch.c({0}), ch.c({1})});
  ir::Value* hw = ch.node("Mul", {ch.node("Gather", {shape, ch.c({2})}), ch.node("Gather", {shape, ch.c({3})})});
  ir::Value* target = ch.node("Concat", {head, ch.c({3}), ch.node("Cast", {hw}, {{"to", int64_t{7}}})},
                              {{"axis", int64_t{0}}});
  ir::Value* y = ch.node("Reshape", {x, target});
  ASSERT_EQ(y->shape.size(), 3u);
  EXPECT_EQ(y->shape[0].symbol, "N");
  EXPECT_EQ(y->shape[1], Dim(3));
  EXPECT_EQ(y->shape[2], Dim(20));
}

// PyTorch's MultiheadAttention export (torchvision ViT) slices Shape(x) at
// starts computed from constants: Slice(Shape(x), Reshape(Mod(3, 3)), ...).
// Mod follows ONNX: fmod=0 takes the divisor's sign, fmod=1 the dividend's.
TEST(SizeValues, SliceStartsComputedByModOfConstants) {
  Chain ch;
  ir::Value* x = ch.g.addValue("x", DType::kFLOAT, sym({named("L"), named("N"), 2304}));
  ir::Value* shape = ch.node("Shape", {x});
  ir::Value* start = ch.node("Reshape", {ch.node("Mod", {ch.scalarC(-1), ch.scalarC(3)}), ch.c({1})});
  ir::Value* head = ch.node("Slice", {shape, ch.c({0}), start});  // Mod(-1, 3) = 2: [L, N]
  ir::Value* target = ch.node("Concat", {head, ch.c({3, 768})}, {{"axis", int64_t{0}}});
  ir::Value* y = ch.node("Reshape", {x, target});
  ASSERT_EQ(y->shape.size(), 4u);
  EXPECT_EQ(y->shape[0].symbol, "L");
  EXPECT_EQ(y->shape[1].symbol, "N");
  EXPECT_EQ(y->shape[2], Dim(3));
  ir::Value* cmod = ch.node("Mod", {ch.scalarC(-7), ch.scalarC(3)}, {{"fmod", int64_t{1}}});  // C: -1
  ir::Value* shifted = ch.node("Add", {cmod, ch.scalarC(4)});                                  // 3
  ir::Value* z = ch.node("ConstantOfShape", {ch.node("Reshape", {shifted, ch.c({1})})});
  EXPECT_EQ(z->shape, (Shape{3}));
}

TEST(SizeValues, ExpandAndConstantOfShapeFollowShape) {
  Chain ch;
  ir::Value* x = ch.g.addValue("x", DType::kFLOAT, sym({1, 3}));
  ir::Value* y = ch.g.addValue("y", DType::kFLOAT, sym({named("N"), 3}));
  ir::Value* e = ch.node("Expand", {x, ch.node("Shape", {y})});
  EXPECT_EQ(e->shape[0].symbol, "N");
  EXPECT_EQ(e->shape[1], Dim(3));
  ir::Value* zeros = ch.node("ConstantOfShape", {ch.node("Shape", {y}, {{"start", int64_t{-1}}})});
  EXPECT_EQ(zeros->shape, (Shape{3}));
}

// ONNX's LayerNormalization function body: the stats' shape is
// Concat(Slice(Shape(x), 0, axis), ConstantOfShape(Size(Shape(x)) - axis)),
// or with a negative axis ConstantOfShape(Neg(axis)) (value 1).
TEST(SizeValues, LayerNormFunctionShapeFollowsSizeNegAndConstantOfShape) {
  for (int64_t axis : {1, -1}) {
    Chain ch;
    ir::Value* x = ch.g.addValue("x", DType::kFLOAT, sym({named("N"), 3, 4}));
    ir::Value* shape = ch.node("Shape", {x});
    ir::Value* axis1 = ch.c({axis});
    ir::Value* prefix = ch.node("Slice", {shape, ch.c({0}), axis1});
    ir::Value* count = axis >= 0 ? ch.node("Sub", {ch.node("Size", {shape}), axis1}) : ch.node("Neg", {axis1});
    ir::Value* ones = ch.node("ConstantOfShape", {count}, {{"value", ints({1})}});
    ir::Value* target = ch.node("Concat", {prefix, ones}, {{"axis", int64_t{0}}});
    ir::Value* stats = ch.g.addValue("stats", DType::kFLOAT, sym({named("N"), axis >= 0 ? 1 : 3}));
    ir::Value* y = ch.node("Reshape", {stats, target});
    Shape want = axis >= 0 ? Shape{Dim(), Dim(1), Dim(1)} : Shape{Dim(), Dim(3), Dim(1)};
    ASSERT_EQ(y->shape.size(), 3u) << axis;
    EXPECT_EQ(y->shape[0].symbol, "N") << axis;
    EXPECT_EQ(y->shape[1], want[1]) << axis;
    EXPECT_EQ(y->shape[2], Dim(1)) << axis;
  }
}

// ONNX's AffineGrid function body: Expand(idx[2,3], Concat(N, [2, 3])) where N
// is a runtime value of one element. Its value is unknown, its count is not:
// the known tail survives, so Split/Squeeze downstream see [?, 2, 3].
TEST(SizeValues, RuntimeValuesKeepTheirCountThroughConcat) {
  Chain ch;
  ir::Value* n = ch.g.addValue("N", DType::kINT64, sym({1}));
  ir::Value* target = ch.node("Concat", {n, ch.c({2, 3})}, {{"axis", int64_t{0}}});
  ir::Value* idx = ch.g.addValue("idx", DType::kINT64, sym({2, 3}));
  ir::Value* e = ch.node("Expand", {idx, target});
  EXPECT_EQ(e->shape, (Shape{Dim(), 2, 3}));
  ir::Value* r = ch.node("Reshape", {ch.g.addValue("x", DType::kFLOAT, sym({4, 6})), target});
  EXPECT_EQ(r->shape, (Shape{Dim(), 2, 3}));
  ir::Value* z = ch.node("ConstantOfShape", {target});
  EXPECT_EQ(z->shape, (Shape{Dim(), 2, 3}));
  // Where the known side is not 1, it decides the broadcast dim.
  EXPECT_EQ(ch.node("Expand", {idx, ch.node("Concat", {n, ch.c({3})}, {{"axis", int64_t{0}}})})->shape,
            (Shape{2, 3}));
}

TEST(SizeValues, ErrorsStillNameTheNodeAndTheSymbols) {
  Chain ch;
  ir::Value* x = ch.g.addValue("x", DType::kFLOAT, sym({named("N"), 6}));
  ir::Value* n = ch.node("Gather", {ch.node("Shape", {x}), ch.c({0})});
  ir::Value* target = ch.node("Concat", {n, ch.c({5})}, {{"axis", int64_t{0}}});
  expectNodeError([&] { ch.node("Reshape", {x, target}); }, "Reshape" + std::to_string(ch.g.nodes().size()),
                  "cannot reshape [N,6] (6 elements) to [N,5]");
}

}  // namespace
}  // namespace kiln::test
