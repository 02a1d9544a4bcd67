// Comparison ops (Equal, Less, LessOrEqual, Greater, GreaterOrEqual: float,
// int32, int64 operands, and bool for Equal), logic ops (And, Or, Xor) and Not
// on the device, broadcasting as the binary ops do (logical.cu). Their
// outputs are bool; e.g. BERT's attention-mask And that constant folding
// cannot remove (it depends on the mask input).
#include <map>

#include "backends/cuda/ops/families.h"
#include "backends/cuda/ops/launch_shapes.h"
#include "backends/cuda/ops/logical_kernels.h"
#include "backends/cuda/ops/tactic_util.h"
#include "core/error.h"

namespace kiln::cuda {
namespace {

using kernels::Compare;
using kernels::Logic;

const std::map<std::string, Compare>& compareOps() {
  static const std::map<std::string, Compare> ops = {{"Equal", Compare::kEqual},
                                                     {"Less", Compare::kLess},
                                                     {"LessOrEqual", Compare::kLessOrEqual},
                                                     {"Greater", Compare::kGreater},
                                                     {"GreaterOrEqual", Compare::kGreaterOrEqual}};
  return ops;
}

const std::map<std::string, Logic>& logicOps() {
  static const std::map<std::string, Logic> ops = {{"And", Logic::kAnd}, {"Or", Logic::kOr}, {"Xor", Logic::kXor}};
  return ops;
}

class CompareKernel final : public backends::DeviceKernel {
 public:
  explicit CompareKernel(Compare op) : op_(op) {}
  void enqueue(const backends::DeviceLaunch& launch, const TensorView* in, const TensorView* out) const override {
    kernels::BroadcastShape s = broadcastShape(in[0].shape(), in[1].shape(), out[0].shape());
    bool* y = out[0].as<bool>();
    cudaStream_t stream = streamOf(launch);
    switch (in[0].dtype) {
      case DType::kFLOAT: return kernels::compare(in[0].as<const float>(), in[1].as<const float>(), y, s, op_, stream);
      case DType::kINT32:
        return kernels::compare(in[0].as<const int32_t>(), in[1].as<const int32_t>(), y, s, op_, stream);
      case DType::kINT64:
        return kernels::compare(in[0].as<const int64_t>(), in[1].as<const int64_t>(), y, s, op_, stream);
      case DType::kBOOL:
        return kernels::compare(in[0].as<const uint8_t>(), in[1].as<const uint8_t>(), y, s, op_, stream);
      default: fail("compare: the CUDA kernel lacks operand type ", dataTypeName(in[0].dtype));
    }
  }

 private:
  Compare op_;
};

class LogicKernel final : public backends::DeviceKernel {
 public:
  explicit LogicKernel(Logic op) : op_(op) {}
  void enqueue(const backends::DeviceLaunch& launch, const TensorView* in, const TensorView* out) const override {
    kernels::BroadcastShape s = broadcastShape(in[0].shape(), in[1].shape(), out[0].shape());
    kernels::logic(in[0].as<const bool>(), in[1].as<const bool>(), out[0].as<bool>(), s, op_, streamOf(launch));
  }

 private:
  Logic op_;
};

class NotKernel final : public backends::DeviceKernel {
 public:
  void enqueue(const backends::DeviceLaunch& launch, const TensorView* in, const TensorView* out) const override {
    kernels::logicalNot(in[0].as<const bool>(), out[0].as<bool>(), out[0].numel(), streamOf(launch));
  }
};

bool binaryBoolOutput(const ir::Node& n) {
  return n.inputs.size() == 2 && n.inputs[0] && n.inputs[1] && n.outputs.size() == 1 &&
         n.inputs[0]->dtype == n.inputs[1]->dtype && n.outputs[0]->dtype == DType::kBOOL &&
         n.outputs[0]->shape.size() <= kernels::kMaxRank;
}

bool supportsCompare(const ir::Node& n) {
  if (!binaryBoolOutput(n)) return false;
  DType t = n.inputs[0]->dtype;
  return t == DType::kFLOAT || t == DType::kINT32 || t == DType::kINT64 || (t == DType::kBOOL && n.op == "Equal");
}
std::unique_ptr<backends::DeviceKernel> createCompare(const ir::Node& n) {
  return std::make_unique<CompareKernel>(compareOps().at(n.op));
}

bool supportsLogic(const ir::Node& n) { return binaryBoolOutput(n) && n.inputs[0]->dtype == DType::kBOOL; }
std::unique_ptr<backends::DeviceKernel> createLogic(const ir::Node& n) {
  return std::make_unique<LogicKernel>(logicOps().at(n.op));
}

bool supportsNot(const ir::Node& n) {
  return n.inputs.size() == 1 && n.inputs[0] && n.outputs.size() == 1 && n.inputs[0]->dtype == DType::kBOOL &&
         n.outputs[0]->dtype == DType::kBOOL;
}
std::unique_ptr<backends::DeviceKernel> createNot(const ir::Node&) { return std::make_unique<NotKernel>(); }

}  // namespace

void registerLogicalTactics(TacticList& out) {
  for (const auto& [op, kind] : compareOps()) out.push_back({op + ".cuda", op, 0, supportsCompare, createCompare});
  for (const auto& [op, kind] : logicOps()) out.push_back({op + ".cuda", op, 0, supportsLogic, createLogic});
  out.push_back({"Not.cuda", "Not", 0, supportsNot, createNot});
}

}  // namespace kiln::cuda
