// DeformConv (2-D) and Col2Im (N-D): reference loops (ONNX reference
// semantics), parallel over independent output planes.
//
// DeformConv samples X bilinearly at each tap's position moved by its offset
// (offset channels ordered (offset_group, kH, kW, [dy, dx])); corners outside
// X read 0, as the reference's GridSample(align_corners=1, zeros) does. The
// optional mask (offset_group, kH, kW) scales each tap.
#include <cmath>

#include "backends/cpu/ops/families.h"
#include "backends/cpu/ops/nn_util.h"

namespace kiln::cpu {
namespace {

inline float pixelOrZero(const float* plane, int64_t h, int64_t w, int64_t height, int64_t width) {
  return h >= 0 && h < height && w >= 0 && w < width ? plane[h * width + w] : 0.f;
}

float bilinear(const float* plane, float y, float x, int64_t height, int64_t width) {
  const float fy = std::floor(y), fx = std::floor(x);
  const int64_t y0 = static_cast<int64_t>(fy), x0 = static_cast<int64_t>(fx);
  const float ty = y - fy, tx = x - fx;
  return (1 - ty) * ((1 - tx) * pixelOrZero(plane, y0, x0, height, width) +
                     tx * pixelOrZero(plane, y0, x0 + 1, height, width)) +
         ty * ((1 - tx) * pixelOrZero(plane, y0 + 1, x0, height, width) +
               tx * pixelOrZero(plane, y0 + 1, x0 + 1, height, width));
}

class DeformConvRef final : public Kernel {
 public:
  explicit DeformConvRef(const ir::Node& node)
      : desc_(nodeDescription(node)),
        attrs_(ir::readWindowAttrs(node, 2)),
        group_(node.i("group", 1)),
        offsetGroup_(node.i("offset_group", 1)),
        numInputs_(node.inputs.size()) {}

  void run(const ExecContext& ctx, const TensorView* in, const TensorView* out) const override {
    const TensorView& x = in[0];
    const TensorView& w = in[1];
    const TensorView& y = out[0];
    const int64_t kernel[3] = {w.dims[2], w.dims[3], 1};
    const Geometry3 g = windowGeometry(desc_, attrs_, x, kernel, y);  // 2-D: axes 1, 2 of g
    const int64_t n = x.dims[0], c = x.dims[1], height = x.dims[2], width = x.dims[3];
    const int64_t oc = w.dims[0], kh = w.dims[2], kw = w.dims[3], oh = y.dims[2], ow = y.dims[3];
    const int64_t icPerGroup = c / group_, ocPerGroup = oc / group_, icPerOffsetGroup = c / offsetGroup_;
    KILN_CHECK(in[2].dims[2] == oh && in[2].dims[3] == ow, desc_.describe(), ": offset ",
               ir::toString(in[2].shape()), " does not match the output ", ir::toString(y.shape()));
    const float* xd = x.as<const float>();
    const float* wd = w.as<const float>();
    const float* offset = in[2].as<const float>();
    const float* bias = numInputs_ > 3 && in[3].data ? in[3].as<const float>() : nullptr;
    const float* mask = numInputs_ > 4 && in[4].data ? in[4].as<const float>() : nullptr;
    float* yd = y.as<float>();
    const int64_t outPlane = oh * ow, taps = kh * kw;
    ctx.pool->parallelFor(n * oc, [&](int64_t begin, int64_t end) {
      for (int64_t no = begin; no < end; ++no) {
        const int64_t b = no / oc, o = no % oc, grp = o / ocPerGroup;
        for (int64_t i = 0; i < oh; ++i)
          for (int64_t j = 0; j < ow; ++j) {
            float acc = bias ? bias[o] : 0.f;
            for (int64_t ci = 0; ci < icPerGroup; ++ci) {
              const int64_t ic = grp * icPerGroup + ci, og = ic / icPerOffsetGroup;
              const float* plane = xd + (b * c + ic) * height * width;
              const float* wk = wd + (o * icPerGroup + ci) * taps;
              for (int64_t p = 0; p < kh; ++p)
                for (int64_t q = 0; q < kw; ++q) {
                  const int64_t tap = p * kw + q;
                  const int64_t offCh = (og * taps + tap) * 2;
                  const float dy = offset[((b * offsetGroup_ * taps * 2) + offCh) * outPlane + i * ow + j];
                  const float dx = offset[((b * offsetGroup_ * taps * 2) + offCh + 1) * outPlane + i * ow + j];
                  const float yy = static_cast<float>(i * g.stride[1] - g.pad[1] + p * g.dil[1]) + dy;
                  const float xx = static_cast<float>(j * g.stride[2] - g.pad[2] + q * g.dil[2]) + dx;
                  float v = bilinear(plane, yy, xx, height, width) * wk[tap];
                  if (mask) v *= mask[((b * offsetGroup_ + og) * taps + tap) * outPlane + i * ow + j];
                  acc += v;
                }
            }
            yd[no * outPlane + i * ow + j] = acc;
          }
      }
    });
  }

 private:
  ir::Node desc_;
  ir::WindowAttrs attrs_;
  int64_t group_, offsetGroup_;
  std::size_t numInputs_;
};

// Col2Im: column (c, k) of block b adds into the image at the block's origin
// plus the kernel offset k (dilated), when that lies inside the image.
class Col2ImRef final : public Kernel {
 public:
  explicit Col2ImRef(const ir::Node& node)
      : dilations_(node.ints("dilations")), strides_(node.ints("strides")), pads_(node.ints("pads")) {}

  void run(const ExecContext& ctx, const TensorView* in, const TensorView* out) const override {
    const TensorView& x = in[0];
    const TensorView& y = out[0];
    const int sp = y.rank - 2;
    int64_t img[kMaxRank], blk[kMaxRank], nblk[kMaxRank], dil[kMaxRank], str[kMaxRank], pad[kMaxRank];
    int64_t kernel = 1, imgSize = 1, blocks = 1;
    for (int a = 0; a < sp; ++a) {
      img[a] = y.dims[2 + a];
      blk[a] = in[2].as<const int64_t>()[a];
      dil[a] = dilations_.empty() ? 1 : dilations_[a];
      str[a] = strides_.empty() ? 1 : strides_[a];
      pad[a] = pads_.empty() ? 0 : pads_[a];
      const int64_t padEnd = pads_.empty() ? 0 : pads_[sp + a];
      nblk[a] = (img[a] + pad[a] + padEnd - dil[a] * (blk[a] - 1) - 1) / str[a] + 1;
      kernel *= blk[a];
      imgSize *= img[a];
      blocks *= nblk[a];
    }
    int64_t imgStride[kMaxRank];
    int64_t stride = 1;
    for (int a = sp - 1; a >= 0; --a) {
      imgStride[a] = stride;
      stride *= img[a];
    }
    const int64_t n = x.dims[0], c = y.dims[1];
    KILN_CHECK(x.dims[1] == c * kernel && x.dims[2] == blocks, "Col2Im: input ", ir::toString(x.shape()),
               " does not fit ", c, " channels x ", kernel, " kernel taps x ", blocks, " blocks");
    const float* xd = x.as<const float>();
    float* yd = y.as<float>();
    ctx.pool->parallelFor(n * c, [&](int64_t begin, int64_t end) {
      for (int64_t nc = begin; nc < end; ++nc) {
        float* image = yd + nc * imgSize;
        for (int64_t i = 0; i < imgSize; ++i) image[i] = 0.f;
        const float* cols = xd + nc * kernel * blocks;
        for (int64_t k = 0; k < kernel; ++k)
          for (int64_t bl = 0; bl < blocks; ++bl) {
            int64_t kr = k, br = bl, pos = 0;
            bool inside = true;
            for (int a = sp - 1; a >= 0; --a) {
              const int64_t ka = kr % blk[a], ba = br % nblk[a];
              kr /= blk[a];
              br /= nblk[a];
              const int64_t p = ba * str[a] - pad[a] + ka * dil[a];
              inside = inside && p >= 0 && p < img[a];
              pos += p * imgStride[a];
            }
            if (inside) image[pos] += cols[k * blocks + bl];
          }
      }
    });
  }

 private:
  std::vector<int64_t> dilations_, strides_, pads_;
};

bool supportsFloat(const ir::Node& node) { return node.inputs[0] && node.inputs[0]->dtype == DType::kFLOAT; }

template <typename K>
std::unique_ptr<Kernel> make(const ir::Node& n) {
  return std::make_unique<K>(n);
}

}  // namespace

void registerConvExtraKernels(TacticRegistry& r) {
  r.add({"DeformConv.ref", "DeformConv", 0, supportsFloat, make<DeformConvRef>, nullptr});
  r.add({"Col2Im.ref", "Col2Im", 0, supportsFloat, make<Col2ImRef>, nullptr});
}

}  // namespace kiln::cpu
