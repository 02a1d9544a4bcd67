// KilnFusedElementwise.nvrtc on the host (no GPU needed): the generated source
// for every step kind, NVRTC compiling it to an sm_90 cubin in FP32/FP16/BF16,
// the compile cache, the errors (named node, NVRTC's log), the launch
// arithmetic replayed against a plain broadcast walk, and a CUDA build behind a
// stand-in GPU whose plan carries the cubin.
#include <gtest/gtest.h>

#include <random>

#include "backends/cuda/backend.h"
#include "backends/cuda/ops/fused_codegen.h"
#include "builder/build_plan.h"
#include "core/error.h"
#include "ir/op_schema.h"
#include "plan/plan.h"
#include "unit/cuda/fused_test_util.h"

namespace kiln::test {
namespace {

using cuda::fused::Args;
using cuda::fused::Chain;
using cuda::fused::Step;

using fused_chain::kBinaryOps;
using fused_chain::kUnaryOps;

//! A KilnFusedElementwise node over `inputs` (dims) of `dtype`, graph-owned.
struct FusedNode {
  ir::Graph g;
  ir::Node* node = nullptr;
};

std::unique_ptr<FusedNode> fusedNode(const std::vector<Step>& steps, const std::vector<std::vector<int64_t>>& inputs,
                                     DType dtype = DType::kFLOAT) {
  auto f = std::make_unique<FusedNode>();
  std::vector<ir::Value*> ins;
  for (std::size_t k = 0; k < inputs.size(); ++k) {
    ir::Value* v = f->g.addValue(strCat("x", k), dtype, ir::shapeOf(inputs[k]));
    f->g.inputs.push_back(v);
    ins.push_back(v);
  }
  ir::Value* y = f->g.addValue("y", dtype, {});
  f->node = f->g.addNode("KilnFusedElementwise", "chain/fused", ins, {y});
  f->node->attrs = fused_chain::chainAttributes(steps);
  f->g.outputs.push_back(y);
  ir::inferGraph(f->g);
  return f;
}

//! Every step kind once: the unary ones, then each binary plain and swapped.
std::vector<Step> everyStep() {
  std::vector<Step> steps;
  for (const char* op : kUnaryOps) {
    Step s{op};
    if (s.op == "LeakyRelu") s.alpha = 0.1f;
    if (s.op == "HardSigmoid") s.alpha = 0.25f, s.beta = 0.4f;
    if (s.op == "Clip") s.alpha = -1.5f, s.beta = std::numeric_limits<float>::infinity();
    steps.push_back(s);
  }
  for (const char* op : kBinaryOps) {
    steps.push_back(Step{op, 1, false});
    steps.push_back(Step{op, 2, true});
  }
  return steps;
}

bool isElf(const std::vector<uint8_t>& b) {
  return b.size() > 64 && b[0] == 0x7f && b[1] == 'E' && b[2] == 'L' && b[3] == 'F';
}

TEST(FusedCodegen, SourceSpellsEveryStepAndItsParameters) {
  auto f = fusedNode(everyStep(), {{2, 3}, {3}, {2, 1}});
  Chain c;
  std::string why;
  ASSERT_TRUE(cuda::fused::chainOf(*f->node, &c, &why)) << why;
  EXPECT_EQ(c.numInputs, 3);
  std::string src = cuda::fused::kernelSource(c);
  for (const char* op : kUnaryOps) EXPECT_NE(src.find(std::string(": ") + op + "\n"), std::string::npos) << op;
  for (const char* op : kBinaryOps) EXPECT_NE(src.find(std::string(": ") + op + "\n"), std::string::npos) << op;
  EXPECT_NE(src.find("__int_as_float(0x3dcccccd)"), std::string::npos);  // LeakyRelu alpha 0.1
  EXPECT_NE(src.find("__int_as_float(0x3e800000)"), std::string::npos);  // HardSigmoid alpha 0.25
  EXPECT_NE(src.find("__int_as_float(0xbfc00000)"), std::string::npos);  // Clip min -1.5
  EXPECT_NE(src.find("__int_as_float(0x7f800000)"), std::string::npos);  // Clip max +inf
  EXPECT_NE(src.find("const float x = a, y = v1;"), std::string::npos);   // plain binary
  EXPECT_NE(src.find("const float x = v2, y = a;"), std::string::npos);   // swapped binary
  EXPECT_NE(src.find("typedef float T;"), std::string::npos);
  EXPECT_NE(src.find(cuda::fused::kKernel32), std::string::npos);
  EXPECT_NE(src.find(cuda::fused::kKernel64), std::string::npos);
  // Shapes are no part of the source: one cubin serves every shape.
  auto g = fusedNode(everyStep(), {{7, 5, 3}, {3}, {7, 1, 1}});
  Chain c2;
  ASSERT_TRUE(cuda::fused::chainOf(*g->node, &c2, &why));
  EXPECT_EQ(cuda::fused::kernelSource(c2), src);
}

TEST(FusedCodegen, CompilesEveryStepForSm90InEachType) {
  for (DType t : {DType::kFLOAT, DType::kHALF, DType::kBF16}) {
    auto f = fusedNode(everyStep(), {{4, 5}, {5}, {4, 1}}, t);
    Chain c;
    std::string why;
    ASSERT_TRUE(cuda::fused::chainOf(*f->node, &c, &why)) << why;
    EXPECT_EQ(c.dtype, t);
    std::vector<uint8_t> cubin;
    ASSERT_NO_THROW(cubin = cuda::fused::compileCubin(cuda::fused::kernelSource(c), "sm_90", "test chain"))
        << dataTypeName(t);
    EXPECT_TRUE(isElf(cubin)) << dataTypeName(t);
  }
}

TEST(FusedCodegen, SameSourceCompilesOnce) {
  auto f = fusedNode({{"Relu"}, {"Mul", 1}, {"LeakyRelu", -1, false, 0.0123f}}, {{8}, {8}});
  Chain c;
  std::string why;
  ASSERT_TRUE(cuda::fused::chainOf(*f->node, &c, &why));
  std::string src = cuda::fused::kernelSource(c);
  int64_t before = cuda::fused::nvrtcCompilations();
  std::vector<uint8_t> a = cuda::fused::compileCubin(src, "sm_90", "first");
  EXPECT_EQ(cuda::fused::nvrtcCompilations(), before + 1);
  std::vector<uint8_t> b = cuda::fused::compileCubin(src, "sm_90", "second");
  EXPECT_EQ(cuda::fused::nvrtcCompilations(), before + 1);
  EXPECT_EQ(a, b);
  cuda::fused::compileCubin(src, "sm_80", "another arch");  // the arch is part of the key
  EXPECT_EQ(cuda::fused::nvrtcCompilations(), before + 2);
}

TEST(FusedCodegen, CompileErrorsNameTheNodeAndCarryNvrtcsLog) {
  try {
    cuda::fused::compileCubin("extern \"C\" __global__ void k() { undeclared_thing(); }\n", "sm_90",
                              "KilnFusedElementwise node \"bad\"");
    FAIL() << "expected a compile error";
  } catch (const Error& e) {
    std::string m = e.what();
    EXPECT_NE(m.find("KilnFusedElementwise node \"bad\""), std::string::npos) << m;
    EXPECT_NE(m.find("NVRTC could not compile"), std::string::npos) << m;
    EXPECT_NE(m.find("undeclared_thing"), std::string::npos) << m;  // NVRTC's log
  }
  // Through the tactic: an arch NVRTC does not know fails prepare() naming the node.
  const backends::DeviceTactic* t = cuda::backend().findTactic("KilnFusedElementwise.nvrtc");
  ASSERT_TRUE(t && t->prepare);
  auto f = fusedNode({{"Relu"}, {"Neg"}}, {{4}});
  backends::DeviceTarget target;
  target.arch = "sm_1";
  try {
    t->prepare(*f->node, target);
    FAIL() << "expected a compile error";
  } catch (const Error& e) {
    std::string m = e.what();
    EXPECT_NE(m.find("chain/fused"), std::string::npos) << m;
    EXPECT_NE(m.find("sm_1"), std::string::npos) << m;
  }
}

TEST(FusedCodegen, PrepareStoresTheCubinAndArch) {
  const backends::DeviceTactic* t = cuda::backend().findTactic("KilnFusedElementwise.nvrtc");
  ASSERT_TRUE(t);
  auto f = fusedNode({{"Add", 1}, {"Sigmoid"}, {"Mul", 0}}, {{3, 4}, {4}}, DType::kHALF);
  EXPECT_TRUE(t->supports(*f->node));
  backends::DeviceTarget target;
  target.arch = "sm_90";
  t->prepare(*f->node, target);
  const ir::Tensor* cubin = std::get_if<ir::Tensor>(&f->node->attrs.at("kiln_cubin"));
  ASSERT_TRUE(cubin);
  EXPECT_EQ(cubin->dtype(), DType::kUINT8);
  EXPECT_TRUE(isElf(std::vector<uint8_t>(cubin->as<uint8_t>(), cubin->as<uint8_t>() + cubin->numel())));
  EXPECT_EQ(f->node->s("kiln_cubin_arch", ""), "sm_90");
}

TEST(FusedCodegen, DeclinesWhatTheKernelLacks) {
  Chain c;
  std::string why;
  auto unknown = fusedNode({{"Relu"}, {"Neg"}}, {{4}});
  unknown->node->attrs["ops"] = std::vector<std::string>{"Relu", "Softmax"};
  EXPECT_FALSE(cuda::fused::chainOf(*unknown->node, &c, &why));
  EXPECT_NE(why.find("'Softmax'"), std::string::npos) << why;
  auto ints = fusedNode({{"Relu"}, {"Neg"}}, {{4}});
  ints->node->inputs[0]->dtype = DType::kINT32;
  ints->node->outputs[0]->dtype = DType::kINT32;
  EXPECT_FALSE(cuda::fused::chainOf(*ints->node, &c, &why));
  EXPECT_NE(why.find("int32"), std::string::npos) << why;
  auto mixed = fusedNode({{"Add", 1}}, {{4}, {4}});
  mixed->node->inputs[1]->dtype = DType::kHALF;
  EXPECT_FALSE(cuda::fused::chainOf(*mixed->node, &c, &why));
  EXPECT_NE(why.find("one type"), std::string::npos) << why;
  std::vector<std::vector<int64_t>> seventeen(17, std::vector<int64_t>{4});
  std::vector<Step> adds;
  for (int k = 1; k < 17; ++k) adds.push_back(Step{"Add", k});
  auto wide = fusedNode(adds, seventeen);
  EXPECT_FALSE(cuda::fused::chainOf(*wide->node, &c, &why));
  EXPECT_NE(why.find("17 inputs"), std::string::npos) << why;
}

//! Offset of input `in` (dims, broadcast numpy-style) at output element i of `out`, walked plainly.
int64_t naiveOffset(const std::vector<int64_t>& out, const std::vector<int64_t>& in, int64_t i) {
  int64_t off = 0, stride = 1;
  for (int d = static_cast<int>(out.size()) - 1; d >= 0; --d) {
    int64_t c = i % out[d];
    i /= out[d];
    int j = d - static_cast<int>(out.size() - in.size());
    if (j >= 0) {
      if (in[j] != 1) off += c * stride;
      stride *= in[j];
    }
  }
  return off;
}

void expectWalkMatches(const std::vector<int64_t>& out, const std::vector<std::vector<int64_t>>& ins,
                       int expectRank = -1) {
  std::vector<cuda::fused::Dims> d;
  for (const auto& in : ins) d.push_back(cuda::fused::dimsOf(in));
  Args a;
  cuda::fused::planArgs(cuda::fused::dimsOf(out), d.data(), static_cast<int>(d.size()), &a);
  int64_t n = 1;
  for (int64_t x : out) n *= x;
  ASSERT_EQ(a.n, n);
  if (expectRank >= 0) {
    EXPECT_EQ(a.rank, expectRank) << "collapsed rank";
  }
  for (int64_t i = 0; i < n; ++i)
    for (std::size_t k = 0; k < ins.size(); ++k)
      ASSERT_EQ(cuda::fused::inputOffset(a, static_cast<int>(k), i), naiveOffset(out, ins[k], i))
          << "input " << k << " element " << i;
}

TEST(FusedLaunch, CollapsesAndWalksLikeBroadcasting) {
  expectWalkMatches({2, 3, 4, 5}, {{2, 3, 4, 5}, {2, 3, 4, 5}}, 1);  // same shapes: one flat walk
  expectWalkMatches({2, 3, 4, 5}, {{2, 3, 4, 5}, {}}, 1);            // scalar: stride 0
  expectWalkMatches({2, 3, 4, 5}, {{2, 3, 4, 5}, {3, 1, 1}}, 3);     // per channel: [N, C, HW]
  expectWalkMatches({2, 3, 4, 5}, {{2, 3, 4, 5}, {5}}, 2);           // row: [NCH, W]
  expectWalkMatches({1}, {{1}, {1}}, 1);                             // one element
  expectWalkMatches({7}, {{7}, {1}}, 1);
  expectWalkMatches({3, 1, 4}, {{3, 1, 4}, {1, 1, 4}, {3, 1, 1}});   // size-1 dims dropped
  expectWalkMatches({2, 1, 3, 5, 2, 3, 1, 2}, {{2, 1, 3, 5, 2, 3, 1, 2}, {5, 1, 3, 1, 2}, {2, 1, 1, 1, 1, 1, 1, 1}});
  std::mt19937 rng(7);
  for (int trial = 0; trial < 50; ++trial) {
    int rank = 1 + static_cast<int>(rng() % 5);
    std::vector<int64_t> out(rank);
    for (auto& d : out) d = 1 + static_cast<int64_t>(rng() % 4);
    std::vector<std::vector<int64_t>> ins{out};
    for (int k = 0; k < 3; ++k) {
      int r = static_cast<int>(rng() % (rank + 1));
      std::vector<int64_t> in(out.end() - r, out.end());
      for (auto& d : in)
        if (rng() % 2) d = 1;
      ins.push_back(in);
    }
    expectWalkMatches(out, ins);
  }
  Args a;
  cuda::fused::Dims bad[2] = {cuda::fused::dimsOf({2, 3}), cuda::fused::dimsOf({4})};
  EXPECT_THROW(cuda::fused::planArgs(cuda::fused::dimsOf({2, 3}), bad, 2, &a), Error);
}

TEST(FusedLaunch, VectorizedOnlyWhenFlatAndAligned) {
  auto planned = [](const std::vector<int64_t>& out, const std::vector<std::vector<int64_t>>& ins) {
    std::vector<cuda::fused::Dims> d;
    for (const auto& in : ins) d.push_back(cuda::fused::dimsOf(in));
    Args a;
    cuda::fused::planArgs(cuda::fused::dimsOf(out), d.data(), static_cast<int>(d.size()), &a);
    alignas(16) static char buffer[64];
    a.y = buffer;
    for (std::size_t k = 0; k < ins.size(); ++k) a.in[k] = buffer + 16;
    return a;
  };
  Args same = planned({4, 9}, {{4, 9}, {4, 9}, {}});  // whole, whole, one value
  EXPECT_TRUE(cuda::fused::vectorizable(same, 3));
  Args offY = same;
  offY.y = static_cast<char*>(offY.y) + 2;
  EXPECT_FALSE(cuda::fused::vectorizable(offY, 3));
  Args offIn = same;
  offIn.in[1] = static_cast<const char*>(offIn.in[1]) + 4;
  EXPECT_FALSE(cuda::fused::vectorizable(offIn, 3));
  Args offScalar = same;  // a single value is read once, unaligned or not
  offScalar.in[2] = static_cast<const char*>(offScalar.in[2]) + 2;
  EXPECT_TRUE(cuda::fused::vectorizable(offScalar, 3));
  EXPECT_FALSE(cuda::fused::vectorizable(planned({4, 9}, {{4, 9}, {9}}), 2));     // a row: rank 2
  EXPECT_FALSE(cuda::fused::vectorizable(planned({2, 3, 4}, {{2, 3, 4}, {3, 1}}), 2));  // per channel
}

TEST(FusedLaunch, BlocksCoverOrStride) {
  EXPECT_EQ(cuda::fused::blocksFor(1, 132), 1);
  EXPECT_EQ(cuda::fused::blocksFor(257, 132), 2);
  EXPECT_EQ(cuda::fused::blocksFor(int64_t{1} << 40, 132), 132 * 8);  // grid-stride beyond
}

//! cuda::backend()'s tactics behind a host that claims an sm_90 GPU (nothing runs).
class StandInGpu final : public backends::DeviceBackend {
 public:
  explicit StandInGpu(std::string arch = "sm_90") {
    host_.available = true;
    host_.target = {"cuda", std::move(arch), "stand-in H200", 13000, 92600, 130100};
  }
  const char* device() const override { return "cuda"; }
  const backends::HostDevice& host() const override { return host_; }
  std::vector<const backends::DeviceTactic*> tacticsFor(const std::string& op) const override {
    return cuda::backend().tacticsFor(op);
  }
  const backends::DeviceTactic* findTactic(const std::string& name) const override {
    return cuda::backend().findTactic(name);
  }
  std::shared_ptr<void> allocate(std::size_t) const override { return nullptr; }
  void copyAsync(void*, const void*, std::size_t, backends::CopyKind, void*) const override {}
  void synchronize(void*) const override {}
  std::shared_ptr<void> createLibraries() const override { return nullptr; }

 private:
  backends::HostDevice host_;
};

//! y = Sigmoid(x * s + b), s per channel, b a scalar: three ops.
void defineChain(ir::Graph& g) {
  ir::Value* x = g.addValue("x", DType::kFLOAT, ir::shapeOf({2, 3, 5}));
  ir::Value* s = g.addValue("s", DType::kFLOAT, ir::shapeOf({3, 1}));
  g.inputs = {x, s};
  ir::Value* m = g.addValue("m", DType::kFLOAT, {});
  g.addNode("Mul", "mul", {x, s}, {m});
  ir::Value* b = g.addConstant("b", ir::Tensor(DType::kFLOAT, {}, std::vector<float>{0.5f}.data()));
  ir::Value* a = g.addValue("a", DType::kFLOAT, {});
  g.addNode("Add", "add", {m, b}, {a});
  ir::Value* y = g.addValue("y", DType::kFLOAT, {});
  g.addNode("Sigmoid", "sigmoid", {a}, {y});
  g.outputs = {y};
  ir::inferGraph(g);
}

TEST(FusedBuild, AChainBuildsIntoOneLayerWhosePlanCarriesTheCubin) {
  ir::Graph g;
  defineChain(g);
  StandInGpu gpu;
  for (bool fp16 : {false, true}) {
    builder::BuildOptions o;
    o.device = "cuda";
    o.deviceBackend = &gpu;
    o.fp16 = fp16;
    std::vector<uint8_t> bytes = builder::buildPlan(g, o);
    plan::PlanContents p = plan::readPlan(bytes.data(), bytes.size(), nullptr);
    int fused = 0;
    for (auto& n : p.graph->nodes()) {
      if (n->op != "KilnFusedElementwise") continue;
      ++fused;
      EXPECT_EQ(n->tactic, "KilnFusedElementwise.nvrtc");
      EXPECT_EQ(n->outputs[0]->dtype, fp16 ? DType::kHALF : DType::kFLOAT);
      EXPECT_EQ(n->s("kiln_cubin_arch", ""), "sm_90");
      ASSERT_TRUE(n->has("kiln_cubin"));
      const ir::Tensor& cubin = std::get<ir::Tensor>(n->attrs.at("kiln_cubin"));
      EXPECT_TRUE(isElf(std::vector<uint8_t>(cubin.as<uint8_t>(), cubin.as<uint8_t>() + cubin.numel())));
    }
    EXPECT_EQ(fused, 1) << (fp16 ? "FP16" : "FP32");
    for (auto& n : p.graph->nodes()) EXPECT_TRUE(n->op == "KilnFusedElementwise" || n->op == "Cast") << n->op;
    // FP16: the network IO stays FP32, so a Cast for x, s and y around the chain.
    EXPECT_EQ(p.graph->nodes().size(), fp16 ? 4u : 1u);
  }
}

TEST(FusedBuild, AnNvrtcFailureFailsTheBuildNamingTheLayer) {
  ir::Graph g;
  defineChain(g);
  StandInGpu gpu("sm_1");  // an arch NVRTC rejects
  builder::BuildOptions o;
  o.device = "cuda";
  o.deviceBackend = &gpu;
  try {
    builder::buildPlan(g, o);
    FAIL() << "the build succeeded";
  } catch (const Error& e) {
    std::string m = e.what();
    EXPECT_NE(m.find("mul/fused"), std::string::npos) << m;  // the fused layer, named after the chain's head
    EXPECT_NE(m.find("sm_1"), std::string::npos) << m;
    EXPECT_NE(m.find("NVRTC could not compile"), std::string::npos) << m;
  }
}

}  // namespace
}  // namespace kiln::test
