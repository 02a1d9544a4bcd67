// The CPU backend's contract with the builder and the runtime.
//
// A *tactic* is one way to compute one op (reference loops, im2col + packed
// GEMM, ...). For a node, every tactic whose supports() says yes is a
// candidate; the builder times them and records the winner's name in the
// plan. create() makes the kernel from the node at load time; prepack() (if
// any) runs once at build time and may rewrite the node's constant inputs into
// a packed form, so packing costs nothing when a plan is loaded.
//
// Kernels read shapes from the TensorViews they are given at run time (not
// from the node), so that one kernel serves every shape of a profile.
#pragma once
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "backends/tensor_view.h"
#include "core/dtype.h"
#include "core/thread_pool.h"
#include "ir/graph.h"

namespace kiln::cpu {

constexpr int kMaxRank = backends::kMaxRank;
using TensorView = backends::TensorView;  //!< the view every backend's kernels read (backends/tensor_view.h)

//! Makes a view of `data` with `dims`; throws when the rank exceeds kMaxRank.
TensorView makeView(void* data, DType dtype, const std::vector<int64_t>& dims);

struct ExecContext {
  ThreadPool* pool = nullptr;  //!< never null while running
  void* workspace = nullptr;   //!< workspaceBytes() bytes, 64-byte aligned
  //! For ops with data-dependent output shapes (ir::OpSchema::dataDependentOutputs):
  //! one view per node output, where the kernel writes the dims it actually
  //! produced (data unused). Null when the caller doesn't need them (timing).
  TensorView* actualOutputs = nullptr;
};

//! What a data-dependent kernel calls once it knows output `index`'s dims.
//! Its output view holds the upper bound; the data is written contiguously
//! for `dims`.
inline void reportOutputDims(const ExecContext& ctx, int index, std::initializer_list<int64_t> dims) {
  if (!ctx.actualOutputs) return;
  TensorView& v = ctx.actualOutputs[index];
  v.rank = static_cast<int32_t>(dims.size());
  int k = 0;
  for (int64_t d : dims) v.dims[k++] = d;
}

class Kernel {
 public:
  virtual ~Kernel() = default;
  //! `inputs` has one view per node input, `outputs` one per node output.
  //! Must be safe to call from several threads at once (contexts share kernels).
  virtual void run(const ExecContext& ctx, const TensorView* inputs, const TensorView* outputs) const = 0;
  //! Scratch memory needed per run, for the shapes the node was built with.
  virtual std::size_t workspaceBytes() const { return 0; }
};

struct Tactic {
  std::string name;  //!< unique, "<op>.<how>", e.g. "Conv.im2col_gemm"
  std::string op;
  //! Higher runs first when timing is skipped (a single candidate or no timing).
  int priority = 0;
  bool (*supports)(const ir::Node& node) = nullptr;
  std::unique_ptr<Kernel> (*create)(const ir::Node& node) = nullptr;
  void (*prepack)(ir::Node& node, ir::Graph& graph) = nullptr;
};

class TacticRegistry {
 public:
  void add(Tactic tactic);
  //! Tactics for `op`, highest priority first.
  std::vector<const Tactic*> forOp(const std::string& op) const;
  const Tactic* find(const std::string& name) const;
  std::vector<std::string> ops() const;

 private:
  std::vector<std::unique_ptr<Tactic>> all_;
  std::unordered_map<std::string, std::vector<const Tactic*>> byOp_;
  std::unordered_map<std::string, const Tactic*> byName_;
};

//! Every CPU tactic Kiln has.
const TacticRegistry& tactics();

//! Activation layouts between tactics (today: chains of oneDNN convolutions
//! keep oneDNN's blocked layout, see ops/onednn_util.h). proposeLayouts runs
//! before tactic choice and assumes every layer takes the tactic that wants
//! the layout, so that it is timed in it; chooseLayouts runs after every node
//! has its tactic and prepacked weights and keeps only what the choices
//! confirm. Both rewrite node attributes only. Both decide at the graph's
//! static shapes; for a graph whose shapes vary, proposeLayouts is given a
//! copy resolved at the opt shapes (the one tactics are timed on) and
//! chooseLayouts that copy as `shapes` (same nodes, same order).
void proposeLayouts(ir::Graph& graph);
void chooseLayouts(ir::Graph& graph, const ir::Graph* shapes = nullptr);
//! Whether `tactic` runs in the layouts proposeLayouts proposes (oneDNN's
//! convolutions, and MaxPool.rows in a chain's NHWC); every other tactic reads
//! and writes plain layouts.
bool followsProposedLayouts(const Tactic& tactic);
//! What choosing a plain-layout tactic for `node` costs its neighbours where
//! proposeLayouts proposed a blocked input, residual or output: the timed
//! reorders between that layout and plain it forces (ms at `threads`; 0
//! where nothing was proposed). The builder adds it to such a tactic's time,
//! so that a faster plain kernel wins only if it pays for the chain it breaks.
double plainLayoutPenaltyMs(const ir::Node& node, int threads, int iterations);
//! The precision proposeLayouts proposes for a BF16 tactic's edges (values
//! passed in bf16 between BF16 candidates of a oneDNN chain): on `scratch`, a
//! copy of the node to time `tactic` on, the proposal becomes the real edge
//! attributes when `tactic` is a BF16 one; otherwise nothing changes.
void assumeProposedPrecision(ir::Node& scratch, const Tactic& tactic);
//! What choosing an FP32 tactic that follows the proposed layouts costs where
//! bf16 output edges were proposed: the BF16 consumers convert its FP32
//! output (a timed f32 -> bf16 reorder in the chain's layout; 0 elsewhere).
double fp32EdgePenaltyMs(const ir::Node& node, int threads, int iterations);

//! The CPU's best vector ISA, detected once: "avx512", "avx2" or "generic".
const char* hostIsa();

//! Runs `node` once on host tensors with its highest-priority supported tactic
//! (the builder folds constants and the tests check kernels with it). The
//! node's input/output Values must carry static shapes.
std::vector<ir::Tensor> evaluateNode(const ir::Node& node, const std::vector<const ir::Tensor*>& inputs,
                                     ThreadPool* pool = nullptr, const std::string& tactic = "");

}  // namespace kiln::cpu
