// Runs custom_swish.onnx with the CustomSwish plugin loaded from a library:
//   example_plugins <libkiln_example_plugins.so> <custom_swish.onnx>
// Without the library the parser stops at the CustomSwish node and says a
// plugin can provide it.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <memory>
#include <vector>

#include "kiln/kiln.h"

namespace {

class Logger : public kiln::ILogger {
 public:
  void log(Severity s, const char* msg) noexcept override {
    if (s <= Severity::kWARNING) std::fprintf(stderr, "%s\n", msg);
  }
};

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: %s <plugin library .so> <custom_swish.onnx>\n", argv[0]);
    return 2;
  }
  Logger logger;
  kiln::IPluginRegistry* registry = kiln::getPluginRegistry();
  registry->setLogger(&logger);
  if (!registry->loadLibrary(argv[1])) return 1;

  std::unique_ptr<kiln::IBuilder> builder(kiln::createInferBuilder(logger));
  std::unique_ptr<kiln::INetworkDefinition> network(builder->createNetworkV2(0));
  std::unique_ptr<kiln::onnx::IParser> parser(kiln::onnx::createParser(*network, logger));
  if (!parser->parseFromFile(argv[2], 0)) return 1;
  std::unique_ptr<kiln::IBuilderConfig> config(builder->createBuilderConfig());
  std::unique_ptr<kiln::IHostMemory> plan(builder->buildSerializedNetwork(*network, *config));
  if (!plan) return 1;

  std::unique_ptr<kiln::IRuntime> runtime(kiln::createInferRuntime(logger));
  std::unique_ptr<kiln::ICudaEngine> engine(runtime->deserializeCudaEngine(plan->data(), plan->size()));
  if (!engine) return 1;
  std::unique_ptr<kiln::IExecutionContext> context(engine->createExecutionContext());
  std::vector<float> x(2 * 3 * 4 * 5), y(x.size());
  for (std::size_t i = 0; i < x.size(); ++i) x[i] = 0.05f * static_cast<float>(i) - 3.f;
  context->setTensorAddress("x", x.data());
  context->setTensorAddress("y", y.data());
  if (!context->enqueueV3(nullptr)) return 1;

  double worst = 0;
  for (std::size_t i = 0; i < x.size(); ++i) {
    float v = 2.f * x[i];
    worst = std::max(worst, std::fabs(v / (1.f + std::exp(-1.5f * v)) + 0.5 - y[i]));
  }
  std::printf("y[0..3] = %.5f %.5f %.5f %.5f; max |error| vs reference = %.2e\n", y[0], y[1], y[2], y[3], worst);
  return worst < 1e-5 ? 0 : 1;
}
