// The elementwise kernel family: registers the unary, binary, Cast and
// KilnFusedElementwise kernels of the files beside this one, and holds Where
// (a three-way broadcast select that only moves elements, so it serves every
// dtype by element size).
#include <cstdint>
#include <memory>

#include "backends/cpu/ops/broadcast.h"
#include "backends/cpu/ops/elementwise.h"
#include "backends/cpu/ops/families.h"

namespace kiln::cpu {
namespace {

template <typename T>
void where(const ExecContext& ctx, const Broadcast& p, const uint8_t* c, const T* x, const T* y, T* out) {
  const bool vc = p.innerContiguous(0), vx = p.innerContiguous(1), vy = p.innerContiguous(2);
  parallelRuns(ctx, p, kGrainCheap, [&](const int64_t* off, int64_t o, int64_t len) {
    const uint8_t* pc = c + off[0];
    const T* px = x + off[1];
    const T* py = y + off[2];
    T* po = out + o;
    if (vc && vx && vy) {
      for (int64_t i = 0; i < len; ++i) po[i] = pc[i] ? px[i] : py[i];
    } else if (!vc) {  // one condition for the whole run: a copy or a fill
      const T* src = *pc ? px : py;
      if (*pc ? vx : vy) {
        for (int64_t i = 0; i < len; ++i) po[i] = src[i];
      } else {
        for (int64_t i = 0; i < len; ++i) po[i] = *src;
      }
    } else {
      const int64_t sx = vx, sy = vy;
      for (int64_t i = 0; i < len; ++i) po[i] = pc[i] ? px[i * sx] : py[i * sy];
    }
  });
}

class WhereKernel final : public Kernel {
 public:
  void run(const ExecContext& ctx, const TensorView* in, const TensorView* out) const override {
    Broadcast p = planBroadcast(out[0], in, 3);
    const uint8_t* c = in[0].as<uint8_t>();
    switch (dtypeSize(out[0].dtype)) {
      case 1: return where(ctx, p, c, in[1].as<uint8_t>(), in[2].as<uint8_t>(), out[0].as<uint8_t>());
      case 2: return where(ctx, p, c, in[1].as<uint16_t>(), in[2].as<uint16_t>(), out[0].as<uint16_t>());
      case 4: return where(ctx, p, c, in[1].as<uint32_t>(), in[2].as<uint32_t>(), out[0].as<uint32_t>());
      case 8: return where(ctx, p, c, in[1].as<uint64_t>(), in[2].as<uint64_t>(), out[0].as<uint64_t>());
      default: fail("Where: unsupported element size ", dtypeSize(out[0].dtype));
    }
  }
};

bool supportsWhere(const ir::Node& node) {
  if (node.inputs.size() != 3 || node.outputs.size() != 1) return false;
  for (const ir::Value* v : node.inputs)
    if (!v) return false;
  int size = dtypeSize(node.inputs[1]->dtype);
  return node.inputs[0]->dtype == DType::kBOOL && node.inputs[2]->dtype == node.inputs[1]->dtype &&
         (size == 1 || size == 2 || size == 4 || size == 8);
}

std::unique_ptr<Kernel> createWhere(const ir::Node&) { return std::make_unique<WhereKernel>(); }

}  // namespace

void registerElementwiseKernels(TacticRegistry& r) {
  registerUnaryKernels(r);
  registerBinaryKernels(r);
  registerCastKernels(r);
  registerFusedElementwiseKernels(r);
  r.add(Tactic{"Where.ref", "Where", 0, supportsWhere, createWhere, nullptr});
}

}  // namespace kiln::cpu
