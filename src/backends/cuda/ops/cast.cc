// Cast between float32, float16, bfloat16, int32, int64, bool, uint8 and int8 (kernels.cu);
// also the boundary casts the device precision pass inserts (builder/device_precision.h).
#include "backends/cuda/ops/families.h"
#include "backends/cuda/ops/tactic_util.h"
#include "core/error.h"

namespace kiln::cuda {
namespace {

bool castType(DType t, kernels::CastType* out) {
  switch (t) {
    case DType::kFLOAT: *out = kernels::CastType::kFloat; return true;
    case DType::kINT32: *out = kernels::CastType::kInt32; return true;
    case DType::kINT64: *out = kernels::CastType::kInt64; return true;
    case DType::kBOOL: *out = kernels::CastType::kBool; return true;
    case DType::kUINT8: *out = kernels::CastType::kUInt8; return true;
    case DType::kINT8: *out = kernels::CastType::kInt8; return true;
    case DType::kHALF: *out = kernels::CastType::kHalf; return true;
    case DType::kBF16: *out = kernels::CastType::kBF16; return true;
    default: return false;
  }
}

class CastKernel final : public backends::DeviceKernel {
 public:
  CastKernel(kernels::CastType from, kernels::CastType to) : from_(from), to_(to) {}
  void enqueue(const backends::DeviceLaunch& launch, const TensorView* in, const TensorView* out) const override {
    kernels::cast(in[0].data, from_, out[0].data, to_, out[0].numel(), streamOf(launch));
  }

 private:
  kernels::CastType from_, to_;
};

bool supports(const ir::Node& n) {
  kernels::CastType a, b;
  return n.inputs.size() == 1 && n.inputs[0] && n.outputs.size() == 1 && castType(n.inputs[0]->dtype, &a) &&
         castType(n.outputs[0]->dtype, &b);
}

std::unique_ptr<backends::DeviceKernel> create(const ir::Node& n) {
  kernels::CastType a, b;
  KILN_CHECK(castType(n.inputs[0]->dtype, &a) && castType(n.outputs[0]->dtype, &b), n.describe(),
             ": dtypes not supported by the CUDA Cast");
  return std::make_unique<CastKernel>(a, b);
}

}  // namespace

void registerCastTactics(TacticList& out) { out.push_back({"Cast.cuda", "Cast", 0, supports, create}); }

}  // namespace kiln::cuda
