// Builds a small network layer by layer (no ONNX), as a TensorRT program
// would with INetworkDefinition, then serializes, deserializes and runs it.
//
//   input [1,1,8,8] -> conv 4x3x3 (pad 1) -> ReLU -> max pool 2x2
//   -> shuffle to [1,64] -> matmul [64,10] -> + bias -> softmax -> reduce max
#include <cmath>
#include <iostream>
#include <memory>
#include <vector>

#include "kiln/kiln.h"

using namespace kiln;

namespace {
class Logger : public ILogger {
  void log(Severity severity, const char* msg) noexcept override {
    if (severity <= Severity::kWARNING) std::cerr << msg << std::endl;
  }
} logger;

std::vector<float> ramp(std::size_t n, float scale) {
  std::vector<float> v(n);
  for (std::size_t i = 0; i < n; ++i) v[i] = scale * std::sin(0.37f * static_cast<float>(i));
  return v;
}
}  // namespace

int main() {
  std::unique_ptr<IBuilder> builder(createInferBuilder(logger));
  std::unique_ptr<INetworkDefinition> net(builder->createNetworkV2(0));

  ITensor* input = net->addInput("input", DataType::kFLOAT, Dims4(1, 1, 8, 8));
  std::vector<float> convW = ramp(4 * 1 * 3 * 3, 0.5f), convB = ramp(4, 0.1f);
  IConvolutionLayer* conv = net->addConvolutionNd(*input, 4, DimsHW(3, 3), Weights{DataType::kFLOAT, convW.data(), 36},
                                                  Weights{DataType::kFLOAT, convB.data(), 4});
  conv->setPaddingNd(DimsHW(1, 1));
  conv->setName("conv1");
  IActivationLayer* relu = net->addActivation(*conv->getOutput(0), ActivationType::kRELU);
  IPoolingLayer* pool = net->addPoolingNd(*relu->getOutput(0), PoolingType::kMAX, DimsHW(2, 2));
  pool->setStrideNd(DimsHW(2, 2));
  IShuffleLayer* flatten = net->addShuffle(*pool->getOutput(0));
  flatten->setReshapeDimensions(Dims2(1, 64));
  std::vector<float> fcW = ramp(64 * 10, 0.2f), fcB = ramp(10, 0.05f);
  IConstantLayer* w = net->addConstant(Dims2(64, 10), Weights{DataType::kFLOAT, fcW.data(), 640});
  IConstantLayer* b = net->addConstant(Dims2(1, 10), Weights{DataType::kFLOAT, fcB.data(), 10});
  IMatrixMultiplyLayer* fc = net->addMatrixMultiply(*flatten->getOutput(0), MatrixOperation::kNONE, *w->getOutput(0),
                                                    MatrixOperation::kNONE);
  IElementWiseLayer* bias = net->addElementWise(*fc->getOutput(0), *b->getOutput(0), ElementWiseOperation::kSUM);
  ISoftMaxLayer* softmax = net->addSoftMax(*bias->getOutput(0));
  softmax->setAxes(1u << 1);
  softmax->getOutput(0)->setName("probs");
  IReduceLayer* top = net->addReduce(*softmax->getOutput(0), ReduceOperation::kMAX, 1u << 1, false);
  top->getOutput(0)->setName("top_prob");
  net->markOutput(*softmax->getOutput(0));
  net->markOutput(*top->getOutput(0));

  std::unique_ptr<IBuilderConfig> config(builder->createBuilderConfig());
  std::unique_ptr<IHostMemory> plan(builder->buildSerializedNetwork(*net, *config));
  if (!plan) return 1;
  std::unique_ptr<IRuntime> runtime(createInferRuntime(logger));
  std::unique_ptr<ICudaEngine> engine(runtime->deserializeCudaEngine(plan->data(), plan->size()));
  if (!engine) return 1;
  std::unique_ptr<IExecutionContext> ctx(engine->createExecutionContext());

  std::vector<float> in = ramp(64, 1.0f), probs(10), topProb(1);
  ctx->setTensorAddress("input", in.data());
  ctx->setTensorAddress("probs", probs.data());
  ctx->setTensorAddress("top_prob", topProb.data());
  if (!ctx->executeV2(std::vector<void*>{in.data(), probs.data(), topProb.data()}.data())) return 1;
  float sum = 0;
  std::cout << "probs:";
  for (float p : probs) {
    std::cout << " " << p;
    sum += p;
  }
  std::cout << "\nsum = " << sum << ", top = " << topProb[0] << ", layers = " << engine->getNbLayers()
            << ", arena = " << engine->getDeviceMemorySize() << " bytes" << std::endl;
  return std::abs(sum - 1.f) < 1e-4f ? 0 : 1;
}
