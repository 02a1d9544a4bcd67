// Kernels of If, Loop and Scan (IR layout: ir/control_flow.h). Each runs its
// subgraph with the host interpreter of control_flow_interp.h. The engine
// sizes the node's outputs from shape inference before running: a Loop's scan
// outputs need a trip count known at build time (ir::control_flow::loopTripCount),
// and a value whose shape changes between iterations fails with an error
// naming the node instead of writing past its buffer.
#include <cstring>

#include "backends/cpu/ops/control_flow_interp.h"
#include "backends/cpu/ops/families.h"
#include "core/error.h"
#include "ir/control_flow.h"

namespace kiln::cpu {
namespace {

using TensorPtr = std::shared_ptr<const ir::Tensor>;
namespace cf = ir::control_flow;

bool readBool(const TensorView& v, const std::string& what) {
  KILN_CHECK(v.numel() == 1, what, " must hold one element, it has ", v.numel());
  return *static_cast<const uint8_t*>(v.data) != 0;
}

TensorPtr scalarTensor(DType dtype, int64_t value) {
  return std::make_shared<const ir::Tensor>(ir::Tensor::fromInt64({value}, {}).castTo(dtype));
}

int64_t normAxis(int64_t axis, int64_t rank, const std::string& what) {
  KILN_CHECK(axis >= -rank && axis < rank, what, " ", axis, " is out of range for rank ", rank);
  return axis < 0 ? axis + rank : axis;
}

//! Bytes per step along `axis` below it, and the number of blocks above it.
void splitAt(const std::vector<int64_t>& dims, int64_t axis, std::size_t elem, int64_t& outer, std::size_t& inner) {
  outer = 1;
  inner = elem;
  for (int64_t k = 0; k < axis; ++k) outer *= dims[k];
  for (std::size_t k = static_cast<std::size_t>(axis) + 1; k < dims.size(); ++k) inner *= static_cast<std::size_t>(dims[k]);
}

class IfKernel final : public Kernel {
 public:
  explicit IfKernel(const ir::Node& n)
      : where_(n.describe()), then_(cf::subgraph(n, "then_branch").clone()), else_(cf::subgraph(n, "else_branch").clone()) {}

  void run(const ExecContext& ctx, const TensorView* in, const TensorView* out) const override {
    const ir::Graph& branch = readBool(in[0], where_ + ": the condition") ? *then_ : *else_;
    std::vector<TensorPtr> ins;
    for (std::size_t i = 0; i < branch.inputs.size(); ++i) ins.push_back(borrowView(in[1 + i]));
    SubgraphSession session(branch, where_);
    std::vector<TensorPtr> results = session.run(ins, ctx.pool);
    for (std::size_t i = 0; i < results.size(); ++i)
      copyToView(*results[i], out[i], strCat(where_, ": output ", i));
  }

 private:
  std::string where_;
  std::unique_ptr<ir::Graph> then_, else_;
};

class LoopKernel final : public Kernel {
 public:
  explicit LoopKernel(const ir::Node& n)
      : where_(n.describe()), arity_(cf::loopArity(n)), body_(cf::subgraph(n, "body").clone()),
        hasM_(n.input(0) != nullptr), hasCond_(n.input(1) != nullptr) {}

  void run(const ExecContext& ctx, const TensorView* in, const TensorView* out) const override {
    const std::size_t N = arity_.carried, S = arity_.scanOutputs, K = arity_.captures;
    int64_t maxTrips = INT64_MAX;
    if (hasM_ && in[0].data) {
      KILN_CHECK(in[0].numel() == 1, where_, ": the trip count M must hold one element");
      maxTrips = *static_cast<const int64_t*>(in[0].data);
    }
    bool cond = hasCond_ && in[1].data ? readBool(in[1], where_ + ": the condition") : true;
    std::vector<TensorPtr> state(N), captures(K);
    for (std::size_t i = 0; i < N; ++i) state[i] = borrowView(in[2 + i]);
    for (std::size_t k = 0; k < K; ++k) captures[k] = borrowView(in[2 + N + k]);
    SubgraphSession session(*body_, where_ + ": body");
    std::vector<TensorPtr> bodyIn(2 + N + K);
    for (std::size_t k = 0; k < K; ++k) bodyIn[2 + N + k] = captures[k];
    int64_t it = 0;
    for (; it < maxTrips && cond; ++it) {
      bodyIn[0] = scalarTensor(DType::kINT64, it);
      bodyIn[1] = scalarTensor(DType::kBOOL, 1);
      for (std::size_t i = 0; i < N; ++i) bodyIn[2 + i] = state[i];
      std::vector<TensorPtr> r = session.run(bodyIn, ctx.pool);
      KILN_CHECK(r[0]->numel() == 1, where_, ": the body's condition output must hold one element");
      cond = r[0]->toInt64()[0] != 0;
      for (std::size_t i = 0; i < N; ++i) state[i] = r[1 + i];
      for (std::size_t j = 0; j < S; ++j) {
        const TensorView& o = out[N + j];
        const ir::Tensor& slice = *r[1 + N + j];
        KILN_CHECK(o.rank >= 1 && it < o.dims[0], where_, ": scan output ", j, " was sized for ",
                   o.rank ? o.dims[0] : 0, " iterations, but the loop runs more (its trip count depends on data)");
        std::vector<int64_t> sliceDims(o.dims + 1, o.dims + o.rank);
        KILN_CHECK(slice.dims() == sliceDims && slice.dtype() == o.dtype, where_, ": scan output ", j,
                   " of iteration ", it, " is ", ir::toString(slice.dims()), ", the engine expects ",
                   ir::toString(sliceDims));
        if (slice.bytes()) std::memcpy(static_cast<char*>(o.data) + it * slice.bytes(), slice.data(), slice.bytes());
      }
    }
    for (std::size_t j = 0; j < S; ++j)
      KILN_CHECK(out[N + j].dims[0] == it, where_, ": the loop ran ", it, " iterations, but scan output ", j,
                 " was sized for ", out[N + j].dims[0], " (its trip count depends on data)");
    for (std::size_t i = 0; i < N; ++i) copyToView(*state[i], out[i], strCat(where_, ": loop-carried output ", i));
  }

 private:
  std::string where_;
  cf::LoopArity arity_;
  std::unique_ptr<ir::Graph> body_;
  bool hasM_, hasCond_;
};

class ScanKernel final : public Kernel {
 public:
  explicit ScanKernel(const ir::Node& n)
      : where_(n.describe()), arity_(cf::scanArity(n)), body_(cf::subgraph(n, "body").clone()) {
    inAxes_ = n.ints("scan_input_axes", std::vector<int64_t>(arity_.scanInputs, 0));
    inDirs_ = n.ints("scan_input_directions", std::vector<int64_t>(arity_.scanInputs, 0));
    outAxes_ = n.ints("scan_output_axes", std::vector<int64_t>(arity_.scanOutputs, 0));
    outDirs_ = n.ints("scan_output_directions", std::vector<int64_t>(arity_.scanOutputs, 0));
    batched_ = n.i("kiln_batched", 0) != 0;
  }

  void run(const ExecContext& ctx, const TensorView* in, const TensorView* out) const override {
    if (!batched_) return runItem(ctx, in, out);
    // Opset 8's form: every state, scan input and output has a leading batch
    // axis; the body runs once per batch item on views of it (captures are shared).
    const std::size_t ins = arity_.states + arity_.scanInputs, all = ins + arity_.captures;
    const std::size_t outs = arity_.states + arity_.scanOutputs;
    KILN_CHECK(ins > 0 && in[0].rank >= 1, where_, ": the batched form needs a batch axis");
    const int64_t batch = in[0].dims[0];
    std::vector<TensorView> inItem(in, in + all), outItem(out, out + outs);
    auto item = [&](const TensorView& v, int64_t b, const char* what) {
      KILN_CHECK(v.rank >= 1 && v.dims[0] == batch, where_, ": ", what, " has batch ", v.rank ? v.dims[0] : 0,
                 ", the scan's batch is ", batch);
      TensorView r = v;
      r.rank = v.rank - 1;
      for (int k = 0; k < r.rank; ++k) r.dims[k] = v.dims[k + 1];
      r.data = static_cast<char*>(v.data) + b * r.numel() * static_cast<int64_t>(dtypeSize(v.dtype));
      return r;
    };
    for (int64_t b = 0; b < batch; ++b) {
      for (std::size_t i = 0; i < ins; ++i) inItem[i] = item(in[i], b, "an input");
      for (std::size_t i = 0; i < outs; ++i) outItem[i] = item(out[i], b, "an output");
      runItem(ctx, inItem.data(), outItem.data());
    }
  }

 private:
  void runItem(const ExecContext& ctx, const TensorView* in, const TensorView* out) const {
    const std::size_t N = arity_.states, M = arity_.scanInputs, K = arity_.scanOutputs, C = arity_.captures;
    std::vector<int64_t> inAx(M), outAx(K);
    int64_t length = -1;
    for (std::size_t j = 0; j < M; ++j) {
      const TensorView& v = in[N + j];
      inAx[j] = normAxis(inAxes_[j], v.rank, where_ + ": scan_input_axes entry");
      int64_t len = v.dims[inAx[j]];
      KILN_CHECK(length < 0 || len == length, where_, ": scan inputs have lengths ", length, " and ", len);
      length = len;
    }
    for (std::size_t k = 0; k < K; ++k) {
      outAx[k] = normAxis(outAxes_[k], out[N + k].rank, where_ + ": scan_output_axes entry");
      KILN_CHECK(out[N + k].dims[outAx[k]] == length, where_, ": scan output ", k, " was sized for ",
                 out[N + k].dims[outAx[k]], " steps, the scan runs ", length);
    }
    std::vector<TensorPtr> bodyIn(N + M + C), state(N);
    for (std::size_t i = 0; i < N; ++i) state[i] = borrowView(in[i]);
    for (std::size_t c = 0; c < C; ++c) bodyIn[N + M + c] = borrowView(in[N + M + c]);
    SubgraphSession session(*body_, where_ + ": body");
    for (int64_t t = 0; t < length; ++t) {
      for (std::size_t i = 0; i < N; ++i) bodyIn[i] = state[i];
      for (std::size_t j = 0; j < M; ++j) {
        const TensorView& v = in[N + j];
        int64_t idx = inDirs_[j] ? length - 1 - t : t;
        std::vector<int64_t> dims = v.shape();
        int64_t outer;
        std::size_t inner;
        splitAt(dims, inAx[j], dtypeSize(v.dtype), outer, inner);
        dims.erase(dims.begin() + inAx[j]);
        ir::Tensor slice(v.dtype, dims);
        auto* dst = static_cast<char*>(slice.mutableData());
        const auto* src = static_cast<const char*>(v.data);
        for (int64_t o = 0; o < outer; ++o)
          std::memcpy(dst + o * inner, src + (o * length + idx) * static_cast<int64_t>(inner), inner);
        bodyIn[N + j] = std::make_shared<const ir::Tensor>(std::move(slice));
      }
      std::vector<TensorPtr> r = session.run(bodyIn, ctx.pool);
      for (std::size_t i = 0; i < N; ++i) state[i] = r[i];
      for (std::size_t k = 0; k < K; ++k) {
        const TensorView& o = out[N + k];
        const ir::Tensor& slice = *r[N + k];
        std::vector<int64_t> dims = o.shape();
        int64_t outer;
        std::size_t inner;
        splitAt(dims, outAx[k], dtypeSize(o.dtype), outer, inner);
        dims.erase(dims.begin() + outAx[k]);
        KILN_CHECK(slice.dims() == dims && slice.dtype() == o.dtype, where_, ": scan output ", k, " of step ", t,
                   " is ", ir::toString(slice.dims()), ", the engine expects ", ir::toString(dims));
        int64_t idx = outDirs_[k] ? length - 1 - t : t;
        auto* dst = static_cast<char*>(o.data);
        const auto* src = static_cast<const char*>(slice.data());
        for (int64_t b = 0; b < outer; ++b)
          std::memcpy(dst + (b * length + idx) * static_cast<int64_t>(inner), src + b * inner, inner);
      }
    }
    for (std::size_t i = 0; i < N; ++i) copyToView(*state[i], out[i], strCat(where_, ": final state ", i));
  }

  std::string where_;
  cf::ScanArity arity_;
  std::unique_ptr<ir::Graph> body_;
  std::vector<int64_t> inAxes_, inDirs_, outAxes_, outDirs_;
  bool batched_ = false;
};

bool subgraphsRunnable(const ir::Node& n) {
  for (const auto& [name, a] : n.attrs)
    if (auto* sub = std::get_if<ir::GraphAttr>(&a))
      if (!*sub || !allOpsHaveKernels(**sub)) return false;
  return true;
}

template <typename K>
std::unique_ptr<Kernel> make(const ir::Node& n) {
  return std::make_unique<K>(n);
}

}  // namespace

void registerControlFlowKernels(TacticRegistry& r) {
  r.add({"If.ref", "If", 0, subgraphsRunnable, make<IfKernel>, nullptr});
  r.add({"Loop.ref", "Loop", 0, subgraphsRunnable, make<LoopKernel>, nullptr});
  r.add({"Scan.ref", "Scan", 0, subgraphsRunnable, make<ScanKernel>, nullptr});
}

}  // namespace kiln::cpu
