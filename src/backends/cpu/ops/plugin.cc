// KilnPlugin.plugin: runs a KilnPlugin node through its plugin's runtime
// capability on host memory (ir/plugin_runner.h does the asking and calling,
// shared with the CUDA tactic). The plugin's enqueue gets host pointers, the
// context's host workspace and a null stream.
#include "backends/cpu/ops/families.h"
#include "ir/plugin_runner.h"

namespace kiln::cpu {
namespace {

bool supportsPlugin(const ir::Node& node) {
  ir::checkPluginFormats(node, "Kiln's CPU tensors");
  return true;
}

class PluginKernel final : public Kernel {
 public:
  explicit PluginKernel(const ir::Node& node) : runner_(node) {}
  std::size_t workspaceBytes() const override { return runner_.workspaceBytes(); }
  void run(const ExecContext& ctx, const TensorView* inputs, const TensorView* outputs) const override {
    runner_.run(inputs, outputs, ctx.workspace, nullptr);
  }

 private:
  ir::PluginRunner runner_;
};

}  // namespace

void registerPluginKernels(TacticRegistry& r) {
  Tactic t;
  t.name = "KilnPlugin.plugin";
  t.op = ir::kPluginOp;
  t.supports = supportsPlugin;
  t.create = [](const ir::Node& node) -> std::unique_ptr<Kernel> { return std::make_unique<PluginKernel>(node); };
  r.add(std::move(t));
}

}  // namespace kiln::cpu
