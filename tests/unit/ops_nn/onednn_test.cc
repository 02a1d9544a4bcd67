// The oneDNN tactics (Conv.onednn, MatMul.onednn, Gemm.onednn) against the reference kernels on edge shapes, with fused
// bias / residual / activation; a kernel shared by contexts of different
// thread counts; shapes other than the ones the kernel was made for; and a
// plan packed by another oneDNN. Skipped where Kiln was built without oneDNN.
#include <thread>

#include "unit/ops_nn/op_test_util.h"

namespace kiln::test {
namespace {

bool haveOnednn() { return cpu::tactics().find("Conv.onednn") != nullptr; }

#define SKIP_WITHOUT_ONEDNN() \
  if (!haveOnednn()) GTEST_SKIP() << "built without oneDNN"

struct Conv {
  std::vector<int64_t> x, w;  // NC[D]HW and K C/g k...
  std::map<std::string, ir::Attribute> attrs;
  bool bias = true, residual = false;
};

OpSpec convSpec(const Conv& c, uint32_t seed) {
  OpSpec s;
  s.op = "Conv";
  s.attrs = c.attrs;
  s.inputs = {dyn(randomTensor(c.x, seed)), cst(randomTensor(c.w, seed + 1))};
  if (c.bias || c.residual) s.inputs.push_back(c.bias ? cst(randomTensor({c.w[0]}, seed + 2)) : none());
  if (c.residual) {
    BuiltGraph b = buildGraph(s);
    s.inputs.push_back(dyn(randomTensor(ir::staticDims(b.node->outputs[0]->shape), seed + 3)));
  }
  return s;
}

// Runs `tactic` and the reference; the tactic must support the node.
void expectMatchesRef(const OpSpec& s, const std::string& tactic) {
  SCOPED_TRACE(tactic);
  BuiltGraph b = buildGraph(s);
  ASSERT_TRUE(cpu::tactics().find(tactic)->supports(*b.node)) << tactic << " declines " << b.node->describe();
  const auto want = runTactic(s, s.op + ".ref");
  const auto got = runTactic(s, tactic);
  EXPECT_TRUE(near(got[0], want[0], 1e-4f, 1e-4f));
}

TEST(OnednnConv, EdgeShapes) {
  SKIP_WITHOUT_ONEDNN();
  using V = std::vector<int64_t>;
  const std::vector<Conv> cases = {
      {{1, 3, 11, 13}, {7, 3, 3, 3}, {{"pads", V{1, 1, 1, 1}}}},                                  // odd channels
      {{1, 3, 23, 29}, {10, 3, 7, 7}, {{"strides", V{2, 2}}, {"pads", V{3, 3, 3, 3}}}},          // stem
      {{1, 8, 5, 7}, {16, 8, 1, 1}, {}},                                                          // 1x1
      {{1, 8, 9, 9}, {5, 8, 1, 1}, {{"strides", V{2, 2}}}},                                       // 1x1 stride 2
      {{1, 8, 10, 9}, {12, 2, 3, 3}, {{"pads", V{1, 1, 1, 1}}, {"group", int64_t{4}}}},            // groups
      {{1, 16, 15, 14}, {16, 1, 3, 3}, {{"strides", V{2, 2}}, {"pads", V{1, 1, 1, 1}}, {"group", int64_t{16}}}},
      {{1, 8, 10, 10}, {16, 1, 3, 3}, {{"pads", V{1, 1, 1, 1}}, {"group", int64_t{8}}}},            // multiplier 2
      {{1, 4, 12, 11}, {6, 4, 3, 3}, {{"pads", V{2, 2, 2, 2}}, {"dilations", V{2, 2}}}},           // dilation
      {{1, 4, 9, 10}, {5, 4, 3, 3}, {{"pads", V{0, 1, 2, 0}}}},                                    // asymmetric pads
      {{1, 4, 10, 12}, {5, 4, 3, 3}, {{"strides", V{2, 2}}, {"auto_pad", std::string("SAME_UPPER")}}},
      {{1, 4, 9, 11}, {5, 4, 4, 4}, {{"auto_pad", std::string("SAME_LOWER")}}},
      {{2, 6, 10, 10}, {9, 6, 3, 3}, {{"pads", V{1, 1, 1, 1}}}},                                  // batch 2
      {{1, 64, 14, 15}, {100, 64, 3, 3}, {{"pads", V{1, 1, 1, 1}}}},
      {{1, 3, 6, 6}, {1, 3, 3, 3}, {}, false},                                                    // K = 1, no bias
      {{2, 5, 31}, {7, 5, 3}, {{"strides", V{2}}, {"pads", V{1, 2}}}},                             // 1-D
      {{1, 3, 5, 6, 7}, {4, 3, 3, 3, 3}, {{"pads", V{1, 1, 1, 1, 1, 1}}, {"strides", V{1, 2, 1}}}},  // 3-D
  };
  int i = 0;
  for (const Conv& c : cases) {
    SCOPED_TRACE(::testing::Message() << "case " << i);
    expectMatchesRef(convSpec(c, 100 + 10 * i), "Conv.onednn");
    ++i;
  }
}

TEST(OnednnConv, FusedResidualAndActivations) {
  SKIP_WITHOUT_ONEDNN();
  const std::vector<std::pair<std::string, std::pair<float, float>>> acts = {
      {"", {0.f, 0.f}},          {"Relu", {0.f, 0.f}},        {"LeakyRelu", {0.1f, 0.f}}, {"Sigmoid", {0.f, 0.f}},
      {"Tanh", {0.f, 0.f}},      {"Clip", {-0.5f, 0.7f}},     {"HardSigmoid", {0.2f, 0.5f}},
      {"HardSwish", {0.f, 0.f}}, {"Gelu", {0.f, 0.f}},        {"GeluTanh", {0.f, 0.f}},   {"Silu", {0.f, 0.f}},
      {"Softplus", {0.f, 0.f}}};
  using V = std::vector<int64_t>;
  int i = 0;
  for (auto& [act, ab] : acts)
    for (bool bias : {true, false}) {
      SCOPED_TRACE(act + (bias ? " bias" : ""));
      Conv c{{2, 5, 9, 10}, {11, 5, 3, 3}, {{"pads", V{1, 1, 1, 1}}}, bias, true};
      if (!act.empty()) {
        c.attrs["kiln_act"] = act;
        c.attrs["kiln_act_alpha"] = ab.first;
        c.attrs["kiln_act_beta"] = ab.second;
      }
      expectMatchesRef(convSpec(c, 500 + 10 * i), "Conv.onednn");
      ++i;
    }
}

OpSpec matmul(std::vector<int64_t> a, std::vector<int64_t> b, bool constB, uint32_t seed, bool bias = false,
              std::string act = "") {
  OpSpec s;
  s.op = "MatMul";
  s.inputs = {dyn(randomTensor(a, seed)), constB ? cst(randomTensor(b, seed + 1)) : dyn(randomTensor(b, seed + 1))};
  if (bias) s.inputs.push_back(cst(randomTensor({b.back()}, seed + 2)));
  if (!act.empty()) s.attrs["kiln_act"] = act;
  return s;
}

TEST(OnednnMatMul, BroadcastOddAndDegenerateShapes) {
  SKIP_WITHOUT_ONEDNN();
  struct Case {
    std::vector<int64_t> a, b;
  };
  const Case cases[] = {
      {{1, 1}, {1, 1}},         {{7, 1}, {1, 9}},          {{13, 37}, {37, 21}},      {{1, 512}, {512, 1000}},
      {{2, 3, 5, 7}, {7, 4}},   {{2, 1, 5, 7}, {3, 7, 4}}, {{4, 6, 33}, {4, 33, 17}}, {{12, 128, 64}, {12, 64, 128}},
      {{5, 7}, {2, 3, 7, 9}},   {{9}, {9, 20}},            {{3, 4, 9}, {9}},          {{2, 1, 3, 5}, {1, 4, 5, 6}},
  };
  int seed = 10;
  for (const Case& c : cases)
    for (bool constB : {true, false}) {
      SCOPED_TRACE(::testing::Message() << ir::toString(c.a) << " x " << ir::toString(c.b) << (constB ? " const" : ""));
      expectMatchesRef(matmul(c.a, c.b, constB, seed++), "MatMul.onednn");
    }
}

TEST(OnednnMatMul, FusedBiasAndActivation) {
  SKIP_WITHOUT_ONEDNN();
  expectMatchesRef(matmul({3, 17, 40}, {40, 33}, true, 1, true, "Gelu"), "MatMul.onednn");
  expectMatchesRef(matmul({3, 17, 40}, {40, 33}, false, 2, true, "Relu"), "MatMul.onednn");
  expectMatchesRef(matmul({2, 4, 9, 40}, {4, 40, 33}, false, 3, true, "GeluTanh"), "MatMul.onednn");
  expectMatchesRef(matmul({1, 128, 96}, {96, 130}, true, 4, true, "Silu"), "MatMul.onednn");
}

TEST(OnednnGemm, TransposesAndBiasShapes) {
  SKIP_WITHOUT_ONEDNN();
  int seed = 70;
  const int64_t M = 13, K = 37, N = 21;
  for (bool ta : {false, true})
    for (bool tb : {false, true})
      for (bool constB : {true, false})
        for (int cshape = 0; cshape < 6; ++cshape) {
          OpSpec s;
          s.op = "Gemm";
          s.attrs = {{"transA", int64_t{ta}}, {"transB", int64_t{tb}}, {"kiln_act", std::string("LeakyRelu")},
                     {"kiln_act_alpha", 0.2f}};
          ir::Tensor a = randomTensor(ta ? std::vector<int64_t>{K, M} : std::vector<int64_t>{M, K}, seed++);
          ir::Tensor b = randomTensor(tb ? std::vector<int64_t>{N, K} : std::vector<int64_t>{K, N}, seed++);
          s.inputs = {dyn(a), constB ? cst(b) : dyn(b)};
          const std::vector<int64_t> cdims[] = {{}, {1}, {N}, {M, 1}, {M, N}};
          if (cshape < 5) s.inputs.push_back(cst(randomTensor(cdims[cshape], seed++)));
          SCOPED_TRACE(::testing::Message() << "transA " << ta << " transB " << tb << " const " << constB << " C "
                                            << cshape);
          expectMatchesRef(s, "Gemm.onednn");
        }
}

TEST(OnednnGemm, DeclinesAlphaAndBeta) {
  SKIP_WITHOUT_ONEDNN();
  OpSpec s;
  s.op = "Gemm";
  s.attrs = {{"alpha", 0.5f}};
  s.inputs = {dyn(randomTensor({4, 5}, 1)), cst(randomTensor({5, 6}, 2)), cst(randomTensor({6}, 3))};
  EXPECT_FALSE(cpu::tactics().find("Gemm.onednn")->supports(*buildGraph(s).node));
  s.attrs = {{"beta", 2.f}};
  EXPECT_FALSE(cpu::tactics().find("Gemm.onednn")->supports(*buildGraph(s).node));
}

// Runs `kernel` (made for `node`) on the inputs of `spec`, whose shapes may
// differ from the node's; constants come from the node.
ir::Tensor runAt(const cpu::Kernel& kernel, const ir::Node& node, const OpSpec& spec, ThreadPool& pool) {
  BuiltGraph b = buildGraph(spec);
  std::vector<cpu::TensorView> in(node.inputs.size());
  for (std::size_t i = 0; i < node.inputs.size(); ++i) {
    if (!node.inputs[i]) continue;
    const ir::Tensor& t = node.inputs[i]->isConstant() ? *node.inputs[i]->constant : spec.inputs[i].value;
    in[i] = cpu::makeView(const_cast<void*>(t.data()), t.dtype(), t.dims());
  }
  ir::Tensor y(DType::kFLOAT, ir::staticDims(b.node->outputs[0]->shape));
  cpu::TensorView out = cpu::makeView(y.mutableData(), DType::kFLOAT, y.dims());
  std::vector<uint8_t> ws(kernel.workspaceBytes() + 64);
  cpu::ExecContext ctx;
  ctx.pool = &pool;
  ctx.workspace = reinterpret_cast<void*>((reinterpret_cast<uintptr_t>(ws.data()) + 63) & ~uintptr_t{63});
  kernel.run(ctx, in.data(), &out);
  return y;
}

// Prepacks `spec`'s node for `tactic` in its graph and makes the kernel.
std::unique_ptr<cpu::Kernel> makeKernel(BuiltGraph& b, const std::string& tactic) {
  const cpu::Tactic* t = cpu::tactics().find(tactic);
  t->prepack(*b.node, *b.graph);
  ir::inferNode(*b.node);
  return t->create(*b.node);
}

TEST(OnednnKernels, SharedByContextsOfDifferentThreadCounts) {
  SKIP_WITHOUT_ONEDNN();
  using V = std::vector<int64_t>;
  const OpSpec specs[] = {
      convSpec({{1, 16, 20, 20}, {24, 16, 3, 3}, {{"pads", V{1, 1, 1, 1}}}, true, true}, 7),
      matmul({2, 64, 48}, {48, 40}, true, 8, true, "Relu"),
      matmul({2, 64, 48}, {2, 48, 40}, false, 9),
      // The CRNN's 1-D conv: prepacked for this machine's thread count, oneDNN 2.6 has only its
      // reference implementation for that weight format at 1 thread, so the 1-thread primitive
      // takes its own format and reorders the plan's weights once (three contexts race to it).
      convSpec({{1, 64, 112}, {64, 64, 3}, {{"pads", V{1, 1}}}, true, false}, 10),
  };
  const char* tactics[] = {"Conv.onednn", "MatMul.onednn", "MatMul.onednn", "Conv.onednn"};
  for (int c = 0; c < 4; ++c) {
    SCOPED_TRACE(tactics[c]);
    const ir::Tensor want = runTactic(specs[c], specs[c].op + ".ref")[0];
    BuiltGraph b = buildGraph(specs[c]);
    auto kernel = makeKernel(b, tactics[c]);
    ir::Tensor got[3];
    std::thread th[3];
    for (int i = 0; i < 3; ++i)
      th[i] = std::thread([&, i] {
        ThreadPool pool(i + 1);  // 1, 2 and 3 threads: one primitive each
        for (int rep = 0; rep < 4; ++rep) got[i] = runAt(*kernel, *b.node, specs[c], pool);
      });
    for (auto& t : th) t.join();
    for (int i = 0; i < 3; ++i) EXPECT_TRUE(near(got[i], want, 1e-4f, 1e-4f)) << i + 1 << " threads";
  }
}

TEST(OnednnKernels, RunAtShapesOtherThanTheKernelWasMadeFor) {
  SKIP_WITHOUT_ONEDNN();
  // Kernels are made at a profile's largest shapes and run at any shape of it.
  using V = std::vector<int64_t>;
  const Conv big{{2, 8, 20, 21}, {12, 8, 3, 3}, {{"pads", V{1, 1, 1, 1}}}, true, true};
  Conv small = big;
  small.x = {1, 8, 9, 13};
  {
    BuiltGraph b = buildGraph(convSpec(big, 3));
    auto kernel = makeKernel(b, "Conv.onednn");
    const OpSpec s = convSpec(small, 3);  // same weights (same seed), other input
    ThreadPool pool(2);
    EXPECT_TRUE(near(runAt(*kernel, *b.node, s, pool), runTactic(s, "Conv.ref")[0], 1e-4f, 1e-4f));
  }
  BuiltGraph b = buildGraph(matmul({4, 100, 64}, {64, 48}, true, 5, true, "Gelu"));
  auto kernel = makeKernel(b, "MatMul.onednn");
  const OpSpec s = matmul({1, 7, 64}, {64, 48}, true, 5, true, "Gelu");
  ThreadPool pool(2);
  EXPECT_TRUE(near(runAt(*kernel, *b.node, s, pool), runTactic(s, "MatMul.ref")[0], 1e-4f, 1e-4f));
}

TEST(OnednnKernels, PlanFromAnotherOnednnIsRefusedByName) {
  SKIP_WITHOUT_ONEDNN();
  using V = std::vector<int64_t>;
  BuiltGraph b = buildGraph(convSpec({{1, 4, 8, 8}, {4, 4, 3, 3}, {{"pads", V{1, 1, 1, 1}}}}, 1));
  const cpu::Tactic* t = cpu::tactics().find("Conv.onednn");
  t->prepack(*b.node, *b.graph);
  b.node->attrs["kiln_packed"] = std::string("onednn0.1.0/conv");
  EXPECT_FALSE(t->supports(*b.node));
  EXPECT_TRUE(throwsWith([&] { t->create(*b.node); }, "onednn0.1.0/conv"));
}

}  // namespace
}  // namespace kiln::test

namespace kiln::test {
namespace {

// conv0 -> a; conv1(a) -> b; conv2(b, residual a) -> y: a and b pass only
// between oneDNN convolutions, so they may stay in oneDNN's blocked layout.
struct Chain {
  ir::Graph g;
  ir::Node* conv[3] = {};
  ir::Tensor x = randomTensor({1, 16, 12, 11}, 1);
};

void makeChain(Chain& c) {
  using V = std::vector<int64_t>;
  ir::Value* x = c.g.addValue("x", DType::kFLOAT, ir::shapeOf(c.x.dims()));
  c.g.inputs.push_back(x);
  ir::Value* a = c.g.addValue("a");
  ir::Value* b = c.g.addValue("b");
  ir::Value* y = c.g.addValue("y");
  ir::Value* ins[3] = {x, a, b};
  ir::Value* outs[3] = {a, b, y};
  const int64_t k[3] = {32, 32, 32}, ch[3] = {16, 32, 32};
  for (int i = 0; i < 3; ++i) {
    std::vector<ir::Value*> in = {ins[i], c.g.addConstant("w" + std::to_string(i), randomTensor({k[i], ch[i], 3, 3}, 10 + i)),
                                  c.g.addConstant("b" + std::to_string(i), randomTensor({k[i]}, 20 + i))};
    if (i == 2) in.push_back(a);
    c.conv[i] = c.g.addNode("Conv", "conv" + std::to_string(i), in, {outs[i]});
    c.conv[i]->attrs["pads"] = V{1, 1, 1, 1};
    c.conv[i]->attrs["kiln_act"] = std::string("Relu");
    ir::inferNode(*c.conv[i]);
  }
  c.g.outputs.push_back(y);
}

// Runs the three convs in order with `tactic` (each node's own when empty), values in fresh tensors.
ir::Tensor runChain(Chain& c, const std::string& tactic) {
  return runNodes(std::vector<ir::Node*>(std::begin(c.conv), std::end(c.conv)), c.g.inputs[0], c.x, c.g.outputs[0],
                  tactic);
}

TEST(OnednnLayouts, ChainsKeepTheBlockedLayoutAndComputeTheSame) {
  SKIP_WITHOUT_ONEDNN();
  Chain ref;
  makeChain(ref);
  const ir::Tensor want = runChain(ref, "Conv.ref");

  Chain c;
  makeChain(c);
  cpu::proposeLayouts(c.g);  // as the builder does before timing
  EXPECT_TRUE(c.conv[0]->has("kiln_onednn_dst_tag"));
  for (ir::Node* n : c.conv) {
    n->tactic = "Conv.onednn";
    cpu::tactics().find("Conv.onednn")->prepack(*n, c.g);
  }
  cpu::chooseLayouts(c.g);
  // a (conv0 -> conv1 input, conv2 residual) and b (conv1 -> conv2) are chained; y is the graph's output.
  EXPECT_TRUE(c.conv[0]->has("kiln_onednn_dst_tag"));
  EXPECT_TRUE(c.conv[1]->has("kiln_onednn_src_tag") && c.conv[1]->has("kiln_onednn_dst_tag"));
  EXPECT_TRUE(c.conv[2]->has("kiln_onednn_src_tag") && c.conv[2]->has("kiln_onednn_res_tag"));
  EXPECT_FALSE(c.conv[2]->has("kiln_onednn_dst_tag"));
  EXPECT_FALSE(c.conv[0]->has("kiln_onednn_src_tag"));
  EXPECT_TRUE(near(runChain(c, "Conv.onednn"), want, 1e-4f, 1e-4f));

  // A consumer that is not a oneDNN convolution breaks the chain (and undoes the proposal).
  Chain d;
  makeChain(d);
  cpu::proposeLayouts(d.g);
  for (int i = 0; i < 3; ++i) {
    const std::string t = i == 1 ? "Conv.im2col_gemm" : "Conv.onednn";
    d.conv[i]->tactic = t;
    cpu::tactics().find(t)->prepack(*d.conv[i], d.g);
  }
  cpu::chooseLayouts(d.g);
  for (ir::Node* n : d.conv)
    for (const char* a : {"kiln_onednn_src_tag", "kiln_onednn_dst_tag", "kiln_onednn_res_tag"})
      EXPECT_FALSE(n->has(a)) << n->name << " " << a;
  EXPECT_TRUE(near(runChain(d, ""), want, 1e-4f, 1e-4f));
}

// conv0 -> a; MaxPool(a) -> p; conv1(p) -> y, CRNN's stage shapes (oneDNN
// keeps them NHWC): the chain passes through the pool when its tactic is
// MaxPool.rows (kiln_nhwc), not when it is MaxPool.ref.
struct PoolChain {
  ir::Graph g;
  ir::Node* n[3] = {};
  ir::Tensor x = randomTensor({2, 16, 16, 45}, 3);
};

void makePoolChain(PoolChain& c) {
  using V = std::vector<int64_t>;
  ir::Value* x = c.g.addValue("x", DType::kFLOAT, ir::shapeOf(c.x.dims()));
  c.g.inputs.push_back(x);
  ir::Value* a = c.g.addValue("a");
  ir::Value* p = c.g.addValue("p");
  ir::Value* y = c.g.addValue("y");
  c.n[0] = c.g.addNode("Conv", "conv0", {x, c.g.addConstant("w0", randomTensor({32, 16, 3, 3}, 4))}, {a});
  c.n[1] = c.g.addNode("MaxPool", "pool", {a}, {p});
  c.n[1]->attrs["kernel_shape"] = V{2, 2};
  c.n[1]->attrs["strides"] = V{2, 2};
  c.n[2] = c.g.addNode("Conv", "conv1", {p, c.g.addConstant("w1", randomTensor({48, 32, 3, 3}, 5))}, {y});
  for (ir::Node* n : {c.n[0], c.n[2]}) {
    n->attrs["pads"] = V{1, 1, 1, 1};
    n->attrs["kiln_act"] = std::string("Relu");
  }
  for (ir::Node* n : c.n) ir::inferNode(*n);
  c.g.outputs.push_back(y);
}

// Runs `nodes` in order, each with its own tactic (any number of outputs), from graph input
// `input` = x; returns value `output`.
ir::Tensor runEachNode(const std::vector<ir::Node*>& nodes, const ir::Value* input, const ir::Tensor& x,
                       const ir::Value* output) {
  std::map<const ir::Value*, ir::Tensor> vals;
  vals.emplace(input, x);
  ThreadPool pool(2);
  for (ir::Node* n : nodes) {
    auto kernel = cpu::tactics().find(n->tactic)->create(*n);
    std::vector<cpu::TensorView> in, out;
    for (const ir::Value* v : n->inputs) {
      const ir::Tensor& t = v->isConstant() ? *v->constant : vals.at(v);
      in.push_back(cpu::makeView(const_cast<void*>(t.data()), t.dtype(), t.dims()));
    }
    for (const ir::Value* o : n->outputs) {
      ir::Tensor& t = vals.emplace(o, ir::Tensor(DType::kFLOAT, ir::staticDims(o->shape))).first->second;
      out.push_back(cpu::makeView(t.mutableData(), DType::kFLOAT, t.dims()));
    }
    std::vector<uint8_t> ws(kernel->workspaceBytes() + 64);
    cpu::ExecContext ctx;
    ctx.pool = &pool;
    ctx.workspace = reinterpret_cast<void*>((reinterpret_cast<uintptr_t>(ws.data()) + 63) & ~uintptr_t{63});
    kernel->run(ctx, in.data(), out.data());
  }
  return vals.at(output);
}

ir::Tensor runPoolChain(PoolChain& c) {
  return runEachNode(std::vector<ir::Node*>(std::begin(c.n), std::end(c.n)), c.g.inputs[0], c.x, c.g.outputs[0]);
}

TEST(OnednnLayouts, ChainsPassNhwcThroughMaxPool) {
  SKIP_WITHOUT_ONEDNN();
  PoolChain ref;
  makePoolChain(ref);
  ref.n[0]->tactic = ref.n[2]->tactic = "Conv.ref";
  ref.n[1]->tactic = "MaxPool.ref";
  const ir::Tensor want = runPoolChain(ref);
  for (const char* poolTactic : {"MaxPool.rows", "MaxPool.ref"}) {
    SCOPED_TRACE(poolTactic);
    PoolChain c;
    makePoolChain(c);
    cpu::proposeLayouts(c.g);
    const bool proposed = c.n[1]->has("kiln_nhwc");
    for (ir::Node* n : {c.n[0], c.n[2]}) {
      n->tactic = "Conv.onednn";
      cpu::tactics().find("Conv.onednn")->prepack(*n, c.g);
    }
    c.n[1]->tactic = poolTactic;
    cpu::chooseLayouts(c.g);
    const bool rows = std::string(poolTactic) == "MaxPool.rows";
    if (!proposed) GTEST_SKIP() << "oneDNN keeps this stage in another layout than NHWC: nothing passes the pool";
    EXPECT_EQ(c.n[1]->has("kiln_nhwc"), rows);
    EXPECT_EQ(c.n[0]->has("kiln_onednn_dst_tag"), rows);
    EXPECT_EQ(c.n[2]->has("kiln_onednn_src_tag"), rows);
    if (rows) {
      EXPECT_EQ(c.n[0]->i("kiln_onednn_dst_tag", 0), c.n[2]->i("kiln_onednn_src_tag", 1));
    }
    EXPECT_FALSE(c.n[2]->has("kiln_onednn_dst_tag"));  // y is the graph's output
    EXPECT_TRUE(near(runPoolChain(c), want, 1e-4f, 1e-4f));
  }
  EXPECT_TRUE(cpu::followsProposedLayouts(*cpu::tactics().find("MaxPool.rows")));
  EXPECT_FALSE(cpu::followsProposedLayouts(*cpu::tactics().find("MaxPool.ref")));
}

TEST(OnednnLayouts, PlainTacticsPayForTheChainsTheyBreak) {
  SKIP_WITHOUT_ONEDNN();
  Chain c;
  makeChain(c);
  // Before the proposal nothing is blocked: no plain tactic pays anything.
  EXPECT_EQ(cpu::plainLayoutPenaltyMs(*c.conv[1], 2, 3), 0.0);
  cpu::proposeLayouts(c.g);
  // conv1 reads a and writes b in the proposed layout: a plain tactic there
  // costs a reorder of each; conv0 (plain input x) pays only for a.
  const double middle = cpu::plainLayoutPenaltyMs(*c.conv[1], 2, 3);
  const double first = cpu::plainLayoutPenaltyMs(*c.conv[0], 2, 3);
  EXPECT_GT(middle, 0.0);
  EXPECT_GT(first, 0.0);
  // Only oneDNN's convolutions follow the proposal.
  EXPECT_TRUE(cpu::followsProposedLayouts(*cpu::tactics().find("Conv.onednn")));
  EXPECT_FALSE(cpu::followsProposedLayouts(*cpu::tactics().find("Conv.im2col_gemm")));
  EXPECT_FALSE(cpu::followsProposedLayouts(*cpu::tactics().find("Conv.depthwise")));
  EXPECT_FALSE(cpu::followsProposedLayouts(*cpu::tactics().find("Conv.ref")));
}


// YOLO's C2f between oneDNN convolutions: conv0 -> a; Split(a) -> s0, s1; conv1(s1) -> b;
// Add(s1, b) -> c; Concat(s0, s1, c) -> d; conv2(d) -> y. The chain passes through the Split,
// Add and Concat in whichever layout oneDNN runs the convolutions (NHWC: the Split and Concat
// walk pixels, kiln_nhwc; nChw16c / nChw8c: every channel count is a multiple of 16, so they
// move the bytes as NCHW ones), not where one of them runs another kernel.
struct C2f {
  ir::Graph g;
  std::vector<ir::Node*> nodes;
  ir::Node *conv0 = nullptr, *conv1 = nullptr, *conv2 = nullptr;
  ir::Tensor x = randomTensor({1, 16, 40, 40}, 4);
};

void makeC2f(C2f& c) {
  using V = std::vector<int64_t>;
  ir::Value* x = c.g.addValue("x", DType::kFLOAT, ir::shapeOf(c.x.dims()));
  c.g.inputs.push_back(x);
  auto value = [&](const char* name) { return c.g.addValue(name); };
  ir::Value *a = value("a"), *s0 = value("s0"), *s1 = value("s1"), *b = value("b"), *cv = value("c"), *d = value("d"),
            *y = value("y");
  auto conv = [&](const char* name, ir::Value* in, ir::Value* out, int64_t k, int64_t ch, int64_t r, uint32_t seed) {
    ir::Node* n = c.g.addNode("Conv", name, {in, c.g.addConstant(std::string(name) + "_w", randomTensor({k, ch, r, r}, seed))}, {out});
    n->attrs["pads"] = V(4, r / 2);
    n->attrs["kiln_act"] = std::string("Relu");
    return n;
  };
  c.conv0 = conv("conv0", x, a, 32, 16, 3, 5);
  ir::Node* split = c.g.addNode("Split", "split", {a, c.g.addConstant("sizes", ir::Tensor::fromInt64({16, 16}, {2}))}, {s0, s1});
  split->attrs["axis"] = int64_t{1};
  c.conv1 = conv("conv1", s1, b, 16, 16, 3, 6);
  ir::Node* add = c.g.addNode("Add", "add", {s1, b}, {cv});
  ir::Node* concat = c.g.addNode("Concat", "concat", {s0, s1, cv}, {d});
  concat->attrs["axis"] = int64_t{1};
  c.conv2 = conv("conv2", d, y, 32, 48, 1, 7);
  c.nodes = {c.conv0, split, c.conv1, add, concat, c.conv2};
  for (ir::Node* n : c.nodes) ir::inferNode(*n);
  c.g.outputs.push_back(y);
}

ir::Tensor runC2f(C2f& c) { return runEachNode(c.nodes, c.g.inputs[0], c.x, c.g.outputs[0]); }

TEST(OnednnLayouts, ChainsPassThroughSplitAddAndConcat) {
  SKIP_WITHOUT_ONEDNN();
  C2f ref;
  makeC2f(ref);
  for (ir::Node* n : ref.nodes) n->tactic = n->op + ".ref";
  const ir::Tensor want = runC2f(ref);
  for (const char* addTactic : {"Add.ref", "KilnFusedElementwise.ref"}) {
    SCOPED_TRACE(addTactic);
    const bool passes = std::string(addTactic) == "Add.ref";
    C2f c;
    makeC2f(c);
    cpu::proposeLayouts(c.g);
    const int64_t t = c.conv0->i("kiln_onednn_dst_tag", -1);  // the layout oneDNN runs these convs in
    ASSERT_NE(t, -1) << "conv0's output was not proposed to stay in oneDNN's layout";
    for (ir::Node* n : c.nodes) {
      n->tactic = n->op == "Conv" ? "Conv.onednn" : n->op + ".ref";
      if (n->op == "Conv") cpu::tactics().find("Conv.onednn")->prepack(*n, c.g);
    }
    if (!passes) c.nodes[3]->tactic = addTactic;  // a kernel the chain does not know to pass through
    cpu::chooseLayouts(c.g);
    EXPECT_EQ(c.conv0->i("kiln_onednn_dst_tag", -1), passes ? t : -1);
    EXPECT_EQ(c.conv1->i("kiln_onednn_src_tag", -1), passes ? t : -1);
    EXPECT_EQ(c.conv1->i("kiln_onednn_dst_tag", -1), passes ? t : -1);
    EXPECT_EQ(c.conv2->i("kiln_onednn_src_tag", -1), passes ? t : -1);
    EXPECT_FALSE(c.conv2->has("kiln_onednn_dst_tag"));  // y is the graph's output
    EXPECT_EQ(c.nodes[1]->has("kiln_nhwc"), c.nodes[4]->has("kiln_nhwc"));  // Split and Concat alike
    if (!passes) {
      EXPECT_FALSE(c.nodes[1]->has("kiln_nhwc"));
    }
    if (!passes) continue;  // (KilnFusedElementwise.ref is no Add kernel: nothing to run)
    EXPECT_TRUE(near(runC2f(c), want, 1e-4f, 1e-4f));
  }
}

}  // namespace
}  // namespace kiln::test
