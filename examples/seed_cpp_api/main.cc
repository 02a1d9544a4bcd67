// The C++ example from the project's seed notes (TensorRT's build and run
// phases), ported to Kiln by changing only the include and the namespace:
//   #include "NvInfer.h" + "NvOnnxParser.h"  ->  #include "kiln/kiln.h"
//   using namespace nvinfer1; nvonnxparser  ->  using namespace kiln; kiln::onnx
//
// Usage: example_seed_cpp_api model.onnx [engine.plan]
// Parses the model, builds a serialized engine, deserializes it, runs it once
// on zero inputs and prints each output's first values.
#include <fstream>
#include <iostream>
#include <memory>
#include <vector>

#include "kiln/kiln.h"

using namespace kiln;
using namespace kiln::onnx;

class Logger : public ILogger {
  void log(Severity severity, const char* msg) noexcept override {
    // suppress info-level messages
    if (severity <= Severity::kWARNING) std::cout << msg << std::endl;
  }
} logger;

int main(int argc, char** argv) {
  if (argc < 2) {
    std::cerr << "usage: " << argv[0] << " model.onnx [engine.plan]\n";
    return 2;
  }
  const char* modelFile = argv[1];

  // --- build phase ---
  IBuilder* builder = createInferBuilder(logger);
  uint32_t flag = 1U << static_cast<uint32_t>(NetworkDefinitionCreationFlag::kEXPLICIT_BATCH);
  INetworkDefinition* network = builder->createNetworkV2(flag);
  IParser* parser = createParser(*network, logger);
  parser->parseFromFile(modelFile, static_cast<int32_t>(ILogger::Severity::kWARNING));
  for (int32_t i = 0; i < parser->getNbErrors(); ++i) std::cout << parser->getError(i)->desc() << std::endl;
  if (parser->getNbErrors() > 0) return 1;

  IBuilderConfig* config = builder->createBuilderConfig();
  config->setMemoryPoolLimit(MemoryPoolType::kWORKSPACE, 1U << 20);
  IHostMemory* serializedModel = builder->buildSerializedNetwork(*network, *config);
  if (!serializedModel) return 1;
  if (argc > 2) {
    std::ofstream(argv[2], std::ios::binary)
        .write(static_cast<const char*>(serializedModel->data()), static_cast<std::streamsize>(serializedModel->size()));
  }
  delete parser;
  delete network;
  delete config;
  delete builder;

  // --- run phase ---
  IRuntime* runtime = createInferRuntime(logger);
  ICudaEngine* engine = runtime->deserializeCudaEngine(serializedModel->data(), serializedModel->size());
  delete serializedModel;
  if (!engine) return 1;
  IExecutionContext* context = engine->createExecutionContext();
  std::vector<std::vector<char>> buffers;
  for (int32_t i = 0; i < engine->getNbIOTensors(); ++i) {
    const char* name = engine->getIOTensorName(i);
    Dims d = engine->getTensorShape(name);
    int64_t n = 1;
    for (int k = 0; k < d.nbDims; ++k) n *= d.d[k];
    buffers.emplace_back(static_cast<std::size_t>(n * dataTypeSize(engine->getTensorDataType(name))), 0);
    context->setTensorAddress(name, buffers.back().data());
  }
  if (!context->enqueueV3(nullptr)) return 1;
  for (int32_t i = 0; i < engine->getNbIOTensors(); ++i) {
    const char* name = engine->getIOTensorName(i);
    if (engine->getTensorIOMode(name) != TensorIOMode::kOUTPUT) continue;
    std::cout << "output " << name << ":";
    if (engine->getTensorDataType(name) == DataType::kFLOAT) {
      const float* v = reinterpret_cast<const float*>(buffers[i].data());
      for (std::size_t k = 0; k < std::min<std::size_t>(5, buffers[i].size() / 4); ++k) std::cout << " " << v[k];
    }
    std::cout << std::endl;
  }
  delete context;
  delete engine;
  delete runtime;
  return 0;
}
