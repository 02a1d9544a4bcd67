// What a oneDNN kernel of a dynamic-shape engine does when the shape changes
// (issue #5), counted with the oneDNN tactics' debug counters, not timed: a
// width seen before makes no primitive; a new width makes one primitive and
// reorders no weights; a kernel that met more widths than its cache holds
// keeps the recent ones (the old fixed table made a primitive on every call
// once full); weights a thread count wants in another format are reordered
// once per kernel, not once per shape.
#include "backends/cpu/ops/onednn_util.h"
#include "unit/ops_nn/op_test_util.h"

namespace kiln::test {
namespace {

bool haveOnednn() { return cpu::tactics().find("Conv.onednn") != nullptr; }

// A Conv [1,C,H,width] with a 3x3 (or, with `oneD`, [1,C,width] and k=3) weight, padding 1; same weights per seed.
OpSpec conv(int64_t channels, int64_t width, bool oneD, uint32_t seed) {
  OpSpec s;
  s.op = "Conv";
  const std::vector<int64_t> x = oneD ? std::vector<int64_t>{1, channels, width} : std::vector<int64_t>{1, channels, 6, width};
  const std::vector<int64_t> w = oneD ? std::vector<int64_t>{channels, channels, 3} : std::vector<int64_t>{channels, channels, 3, 3};
  s.attrs["pads"] = oneD ? std::vector<int64_t>{1, 1} : std::vector<int64_t>{1, 1, 1, 1};
  s.inputs = {dyn(randomTensor(x, seed + width)), cst(randomTensor(w, seed)), cst(randomTensor({channels}, seed + 1))};
  return s;
}

// Runs `kernel` (made for `node`) at `spec`'s input shape; returns the output.
ir::Tensor runAt(const cpu::Kernel& kernel, const ir::Node& node, const OpSpec& spec, ThreadPool& pool) {
  BuiltGraph b = buildGraph(spec);
  std::vector<cpu::TensorView> in(node.inputs.size());
  for (std::size_t i = 0; i < node.inputs.size(); ++i) {
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

struct Made {
  BuiltGraph graph;
  std::unique_ptr<cpu::Kernel> kernel;
};

// A Conv.onednn kernel made (as the runtime makes it) at the largest width.
Made makeAtMax(int64_t channels, int64_t maxWidth, bool oneD) {
  Made m{buildGraph(conv(channels, maxWidth, oneD, 11)), nullptr};
  const cpu::Tactic* t = cpu::tactics().find("Conv.onednn");
  t->prepack(*m.graph.node, *m.graph.graph);
  ir::inferNode(*m.graph.node);
  m.kernel = t->create(*m.graph.node);
  return m;
}

long primitives() { return cpu::onednnCounters().primitives; }
long reorders() { return cpu::onednnCounters().weightReorders; }

TEST(OnednnShapeChange, ANewWidthMakesOnePrimitiveAndAKnownOneNone) {
  if (!haveOnednn()) GTEST_SKIP() << "built without oneDNN";
  Made m = makeAtMax(16, 64, false);
  ThreadPool pool(ThreadPool::hardwareThreads());  // the thread count the kernel made its first primitive for
  const long r0 = reorders();
  for (int64_t w : {40, 37}) {
    const OpSpec s = conv(16, w, false, 11);
    const long p0 = primitives();
    const ir::Tensor got = runAt(*m.kernel, *m.graph.node, s, pool);
    EXPECT_EQ(primitives() - p0, 1) << "first run at width " << w;
    const long p1 = primitives();
    runAt(*m.kernel, *m.graph.node, s, pool);
    EXPECT_EQ(primitives() - p1, 0) << "second run at width " << w;
    EXPECT_TRUE(near(got, runTactic(s, "Conv.ref")[0], 1e-4f, 1e-4f)) << "width " << w;
  }
  EXPECT_EQ(reorders() - r0, 0) << "the plan's weight format serves every width here";
}

TEST(OnednnShapeChange, ManyWidthsKeepTheRecentOnes) {
  if (!haveOnednn()) GTEST_SKIP() << "built without oneDNN";
  Made m = makeAtMax(8, 80, false);
  ThreadPool pool(1);
  // More widths than the cache holds (32 keys, one of them the load-time primitive).
  const int64_t first = 8, count = 40;
  for (int64_t w = first; w < first + count; ++w) runAt(*m.kernel, *m.graph.node, conv(8, w, false, 11), pool);
  // The last widths used are kept: running them again makes nothing.
  const long p0 = primitives();
  for (int64_t w = first + count - 10; w < first + count; ++w)
    runAt(*m.kernel, *m.graph.node, conv(8, w, false, 11), pool);
  EXPECT_EQ(primitives() - p0, 0);
  // The oldest was evicted: made again once, then kept.
  const long p1 = primitives();
  const OpSpec s = conv(8, first, false, 11);
  runAt(*m.kernel, *m.graph.node, s, pool);
  const ir::Tensor got = runAt(*m.kernel, *m.graph.node, s, pool);
  EXPECT_EQ(primitives() - p1, 1);
  EXPECT_TRUE(near(got, runTactic(s, "Conv.ref")[0], 1e-4f, 1e-4f));
}

TEST(OnednnShapeChange, WeightsInAnotherFormatAreReorderedOncePerKernel) {
  if (!haveOnednn()) GTEST_SKIP() << "built without oneDNN";
  // The CRNN's 1-D conv: prepacked at this machine's thread count; where oneDNN
  // has only its reference implementation for that format at 1 thread, the
  // 1-thread primitives take their own format and the kernel reorders the
  // plan's weights into it, once, for every width.
  Made m = makeAtMax(64, 112, true);
  ThreadPool pool(1);
  const long r0 = reorders();
  for (int64_t w : {112, 100, 77, 112, 61}) {
    const OpSpec s = conv(64, w, true, 11);
    EXPECT_TRUE(near(runAt(*m.kernel, *m.graph.node, s, pool), runTactic(s, "Conv.ref")[0], 1e-4f, 1e-4f))
        << "width " << w;
  }
  const long n = reorders() - r0;
  if (n == 0) GTEST_SKIP() << "this machine's oneDNN runs the plan's weight format at 1 thread: nothing to reorder";
  EXPECT_EQ(n, 1) << "weights reordered per shape";
}

}  // namespace
}  // namespace kiln::test
