// The device reformat fusion (builder/device_reformat.cc): a float Cast next to
// a Transpose becomes one KilnReformat in either order, only where the value
// between them has no other reader and is not a network output, and the fused
// graph computes what the pair did (CPU reference kernels, bit for bit).
#include <gtest/gtest.h>

#include <cmath>
#include <map>

#include "builder/build_plan.h"
#include "builder/device_reformat.h"
#include "core/dtype.h"
#include "ir/op_schema.h"
#include "ir/shape_resolver.h"

namespace kiln::builder {
namespace {

ir::Tensor input(const std::vector<int64_t>& dims) {
  std::vector<float> v(static_cast<std::size_t>(ir::numElements(dims)));
  for (std::size_t i = 0; i < v.size(); ++i) v[i] = std::sin(0.37f * static_cast<float>(i)) * 3.f;
  return ir::Tensor::fromFloat(v, dims);
}

std::vector<ir::Tensor> run(const ir::Graph& g, const ir::Tensor& x) {
  std::map<const ir::Value*, ir::Tensor> vals;
  vals[g.inputs[0]] = x;
  for (ir::Node* n : g.nodeList()) {
    std::vector<const ir::Tensor*> ins;
    for (ir::Value* v : n->inputs) ins.push_back(&vals.at(v));
    std::vector<ir::Tensor> outs = evaluateOnHost(*n, ins);
    for (std::size_t k = 0; k < outs.size(); ++k) vals[n->outputs[k]] = outs[k];
  }
  std::vector<ir::Tensor> out;
  for (const ir::Value* v : g.outputs) out.push_back(vals.at(v));
  return out;
}

ir::Node* cast(ir::Graph& g, const char* name, ir::Value* from, ir::Value* to) {
  ir::Node* n = g.addNode("Cast", name, {from}, {to});
  // ONNX's TensorProto codes
  const int64_t code = to->dtype == DType::kHALF ? 10 : to->dtype == DType::kBF16 ? 16 : to->dtype == DType::kINT32 ? 6 : 1;
  n->attrs["to"] = code;
  return n;
}
ir::Node* transpose(ir::Graph& g, const char* name, ir::Value* from, ir::Value* to, std::vector<int64_t> perm) {
  ir::Node* n = g.addNode("Transpose", name, {from}, {to});
  n->attrs["perm"] = std::move(perm);
  return n;
}
int count(const ir::Graph& g, const std::string& op) {
  int k = 0;
  for (const auto& n : g.nodes()) k += n->op == op;
  return k;
}

//! x [2,3,5,7] FP32 -> Cast FP16 -> Transpose to NHWC -> Identity -> Transpose to NCHW -> Cast FP32 -> y:
//! the input's boundary pair and the output's, in the two orders.
struct Boundaries {
  std::unique_ptr<ir::Graph> g = std::make_unique<ir::Graph>();
  Boundaries() {
    ir::Value* x = g->addValue("x", DType::kFLOAT, {2, 3, 5, 7});
    g->inputs.push_back(x);
    ir::Value *h = g->addValue("h", DType::kHALF), *t = g->addValue("t", DType::kHALF);
    ir::Value *r = g->addValue("r", DType::kHALF), *b = g->addValue("b", DType::kHALF);
    ir::Value* y = g->addValue("y", DType::kFLOAT);
    cast(*g, "in_cast", x, h);
    transpose(*g, "to_nhwc", h, t, {0, 2, 3, 1});
    g->addNode("Identity", "middle", {t}, {r});  // stands for the NHWC layers (the CPU has no FP16 Relu)
    transpose(*g, "to_nchw", r, b, {0, 3, 1, 2});
    cast(*g, "out_cast", b, y);
    ir::inferGraph(*g);
    g->outputs.push_back(y);
  }
};

TEST(DeviceReformat, BothBoundaryPairsFuseAndComputeTheSame) {
  Boundaries net;
  const ir::Tensor x = input({2, 3, 5, 7});
  const std::vector<ir::Tensor> before = run(*net.g, x);
  EXPECT_EQ(fuseDeviceReformats(*net.g), 2);
  EXPECT_EQ(count(*net.g, "KilnReformat"), 2);
  EXPECT_EQ(count(*net.g, "Cast") + count(*net.g, "Transpose"), 0);
  for (const auto& n : net.g->nodes()) {
    if (n->op != "KilnReformat") continue;
    const bool in = n->inputs[0]->name == "x";
    EXPECT_EQ(n->ints("perm"), (in ? std::vector<int64_t>{0, 2, 3, 1} : std::vector<int64_t>{0, 3, 1, 2}));
    EXPECT_EQ(static_cast<DType>(n->i("to", -1)), in ? DType::kHALF : DType::kFLOAT);
  }
  ir::inferGraph(*net.g);  // the schema agrees with the values the pass kept
  EXPECT_EQ(net.g->outputs[0]->name, "y");
  const std::vector<ir::Tensor> after = run(*net.g, x);
  ASSERT_EQ(after.size(), 1u);
  EXPECT_EQ(after[0].dims(), (std::vector<int64_t>{2, 3, 5, 7}));
  EXPECT_EQ(after[0].toFloat(), before[0].toFloat());
}

TEST(DeviceReformat, SharedOrOutputValuesAreLeftAlone) {
  {  // the FP16 input is read by the Transpose and by another layer
    Boundaries net;
    ir::Value* h = net.g->findValue("h");
    ir::Value* extra = net.g->addValue("extra", DType::kHALF);
    net.g->addNode("Identity", "other", {h}, {extra});
    ir::inferGraph(*net.g);
    net.g->outputs.push_back(extra);
    EXPECT_EQ(fuseDeviceReformats(*net.g), 1);  // the output pair only
    EXPECT_EQ(count(*net.g, "Cast"), 1);
  }
  {  // the value between the output pair is a network output itself
    Boundaries net;
    net.g->outputs.push_back(net.g->findValue("b"));
    EXPECT_EQ(fuseDeviceReformats(*net.g), 1);  // the input pair only
    EXPECT_EQ(count(*net.g, "Transpose"), 1);
  }
  {  // a Cast to an integer type is no reformat
    ir::Graph g;
    ir::Value* x = g.addValue("x", DType::kFLOAT, {2, 3});
    g.inputs.push_back(x);
    ir::Value *i = g.addValue("i", DType::kINT32), *y = g.addValue("y", DType::kINT32);
    cast(g, "to_int", x, i);
    transpose(g, "swap", i, y, {1, 0});
    ir::inferGraph(g);
    g.outputs.push_back(y);
    EXPECT_EQ(fuseDeviceReformats(g), 0);
  }
}

TEST(DeviceReformat, TheSchemaRejectsABadPermutationOrType) {
  ir::Graph g;
  ir::Value* x = g.addValue("x", DType::kFLOAT, {2, 3, 4});
  g.inputs.push_back(x);
  ir::Value* y = g.addValue("y", DType::kHALF);
  ir::Node* n = g.addNode("KilnReformat", "bad", {x}, {y});
  n->attrs["to"] = static_cast<int64_t>(DType::kHALF);
  n->attrs["perm"] = std::vector<int64_t>{0, 0, 1};
  EXPECT_THROW(ir::inferGraph(g), Error);
  n->attrs["perm"] = std::vector<int64_t>{2, 0, 1};
  n->attrs["to"] = static_cast<int64_t>(DType::kINT32);
  EXPECT_THROW(ir::inferGraph(g), Error);
  n->attrs["to"] = static_cast<int64_t>(DType::kBF16);
  ir::inferGraph(g);
  EXPECT_EQ(y->dtype, DType::kBF16);
  EXPECT_EQ(ir::staticDims(y->shape), (std::vector<int64_t>{4, 2, 3}));
}

}  // namespace
}  // namespace kiln::builder
