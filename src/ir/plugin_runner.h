// Runs a KilnPlugin node's plugin: what the CPU tactic (backends/cpu/ops/plugin.cc)
// and the CUDA tactic (backends/cuda/ops/plugin.cc) share, so both backends ask
// plugins the same questions and call them the same way.
//
// checkPluginFormats asks supportsFormatCombination for every input and output
// at the node's types (Kiln's tensors are always kLINEAR) and throws naming
// the plugin when it declines, since no other tactic exists. A PluginRunner
// makes the plugin for the runtime phase (so a plan whose plugin is not
// registered fails to load) and a build-phase one to learn its workspace.
// Kernels are shared by execution contexts but a plugin object need not be
// thread-safe, so each concurrent run borrows its own clone (attachToContext)
// from a small pool; onShapeChange is called whenever a clone sees other
// shapes than on its previous run. The runner knows no backend: the caller
// passes host or device pointers and a stream (null on the CPU, never null on
// CUDA: that is how a plugin tells where it runs, docs/plugins.md).
#pragma once
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "ir/plugin.h"

namespace kiln::ir {

//! The node's data inputs then outputs, as build-time descriptions (static shapes).
std::vector<DynamicPluginTensorDesc> describePluginIO(const Node& node);

//! Throws unless the plugin supports every input and output of `node` in
//! linear format; `tensors` names whose tensors those are ("Kiln's CPU tensors").
void checkPluginFormats(const Node& node, const char* tensors);

class PluginRunner {
 public:
  explicit PluginRunner(const Node& node);

  std::size_t workspaceBytes() const { return workspace_; }

  //! One run: `View` has rank, dims[], dtype and data (backends::TensorView).
  template <typename View>
  void run(const View* inputs, const View* outputs, void* workspace, cudaStream_t stream) const {
    std::unique_ptr<Instance> inst = acquire();
    bool changed = !inst->shaped;
    for (std::size_t i = 0; i < nIn_; ++i) {
      changed |= describe(inst->in[i], inputs[i].rank, inputs[i].dims, inputs[i].dtype);
      inst->inPtrs[i] = inputs[i].data;
    }
    for (std::size_t i = 0; i < nOut_; ++i) {
      changed |= describe(inst->out[i], outputs[i].rank, outputs[i].dims, outputs[i].dtype);
      inst->outPtrs[i] = outputs[i].data;
    }
    call(std::move(inst), changed, workspace, stream);
  }

 private:
  struct Instance {
    PluginPtr plugin;
    IPluginV3OneRuntime* rt = nullptr;
    std::vector<PluginTensorDesc> in, out;
    std::vector<const void*> inPtrs;
    std::vector<void*> outPtrs;
    bool shaped = false;
  };

  //! Sets `d` to the view's dims and type; true when they changed.
  static bool describe(PluginTensorDesc& d, int32_t rank, const int64_t* dims, DataType type);
  //! onShapeChange (when `changed`) and enqueue; returns `inst` to the pool.
  void call(std::unique_ptr<Instance> inst, bool changed, void* workspace, cudaStream_t stream) const;
  std::size_t workspaceOf(const Node& node) const;
  std::unique_ptr<Instance> makeInstance() const;
  std::unique_ptr<Instance> acquire() const;
  void release(std::unique_ptr<Instance> inst) const;

  std::string where_;
  std::size_t nIn_, nOut_;
  PluginPtr master_;
  std::size_t workspace_ = 0;
  mutable std::mutex mu_;
  mutable std::vector<std::unique_ptr<Instance>> free_;
};

}  // namespace kiln::ir
