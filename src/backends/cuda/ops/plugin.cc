// KilnPlugin.cuda: runs a KilnPlugin node through its plugin's runtime
// capability in a CUDA engine (ir/plugin_runner.h does the asking and calling,
// shared with the CPU tactic). The plugin's enqueue gets device pointers, the
// context's device workspace (256-byte aligned, a part of its device memory)
// and the context's stream. That stream is never null: the legacy default
// stream of enqueueV3(nullptr) is passed as cudaStreamLegacy, so a plugin
// that serves both backends tells them apart by `stream != nullptr`.
#include "backends/cuda/ops/families.h"
#include "backends/cuda/ops/tactic_util.h"
#include "ir/plugin_runner.h"

namespace kiln::cuda {
namespace {

class PluginKernel final : public backends::DeviceKernel {
 public:
  explicit PluginKernel(const ir::Node& node) : runner_(node) {}
  std::size_t workspaceBytes() const override { return runner_.workspaceBytes(); }
  void enqueue(const backends::DeviceLaunch& launch, const TensorView* in, const TensorView* out) const override {
    runner_.run(in, out, launch.workspace, pluginStream(launch));
  }

 private:
  ir::PluginRunner runner_;
};

bool supports(const ir::Node& node) {
  ir::checkPluginFormats(node, "Kiln's CUDA tensors");
  return true;
}

std::unique_ptr<backends::DeviceKernel> create(const ir::Node& node) { return std::make_unique<PluginKernel>(node); }

}  // namespace

cudaStream_t pluginStream(const backends::DeviceLaunch& launch) {
  return launch.stream ? streamOf(launch) : cudaStreamLegacy;
}

void registerPluginTactics(TacticList& out) { out.push_back({"KilnPlugin.cuda", ir::kPluginOp, 0, supports, create}); }

}  // namespace kiln::cuda
