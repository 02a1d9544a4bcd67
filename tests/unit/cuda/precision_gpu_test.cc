// FP16 / BF16 / TF32 on the GPU, against the FP32 CPU reference.
//
// Kernel tests: the inputs are first rounded to the reduced type (so the CPU
// `.ref` kernel and the GPU read the same values), the reference runs in FP32
// on the rounded inputs, the CUDA tactic runs with the inputs converted to
// the reduced type, and its reduced output is compared after widening.
// Tolerance: |got - want| <= rtol * |want| + rtol * max|want| (relative to the
// element and to the output's scale): FP16 rtol 4e-3 (output rounding 2^-11
// plus FP32-accumulation order), BF16 rtol 1.6e-2 (2^-8 rounding, twice where
// a kernel rounds an intermediate such as conv + bias), TF32 FP32 tolerance 5e-3.
// Whole-engine tests: small_cnn and small_transformer built for CUDA with
// kFP16 (and kBF16) against the CPU engine in FP32: 1e-2 relative to the
// output's scale for FP16 (issue #7's bar), 5e-2 for BF16.
//
// Every failure names the tactic, dtype, case (shapes and attributes), output
// and element (flat index and coordinates) with both values.
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <iterator>
#include <set>
#include <sstream>

#include "unit/api/api_test_util.h"
#include "unit/cuda/gpu_test_util.h"

namespace kiln::test {
namespace {

using Dims = std::vector<int64_t>;

float tolerance(DType t) { return t == DType::kHALF ? 4e-3f : t == DType::kBF16 ? 1.6e-2f : 5e-3f; }

std::string coords(const std::vector<int64_t>& dims, int64_t flat) {
  std::vector<int64_t> c(dims.size());
  for (std::size_t d = dims.size(); d-- > 0;) {
    c[d] = dims[d] ? flat % dims[d] : 0;
    flat = dims[d] ? flat / dims[d] : 0;
  }
  return ir::toString(c);
}

//! `got` (any float type) against `want` (FP32), relative to the element and to the output's scale.
::testing::AssertionResult closeTo(const ir::Tensor& got, const ir::Tensor& want, float rtol) {
  if (got.dims() != want.dims())
    return ::testing::AssertionFailure() << "shape " << ir::toString(got.dims()) << ", want " << ir::toString(want.dims());
  const std::vector<float> g = got.toFloat(), w = want.toFloat();
  float scale = 0.f;
  for (float v : w) scale = std::max(scale, std::fabs(v));
  float worst = 0.f;
  int64_t worstAt = -1;
  int64_t bad = 0, firstBad = -1;
  for (std::size_t i = 0; i < g.size(); ++i) {
    const float err = std::fabs(g[i] - w[i]);
    const float allowed = rtol * std::fabs(w[i]) + rtol * scale;
    if (!(err <= allowed)) {  // NaN fails
      if (firstBad < 0) firstBad = static_cast<int64_t>(i);
      ++bad;
    }
    if (!(err <= worst)) worst = err, worstAt = static_cast<int64_t>(i);
  }
  if (bad == 0) return ::testing::AssertionSuccess();
  auto at = [&](int64_t i) {
    std::ostringstream s;
    s << "element " << i << " " << coords(got.dims(), i) << ": got " << g[i] << ", want " << w[i];
    return s.str();
  };
  return ::testing::AssertionFailure() << bad << " of " << g.size() << " elements beyond " << rtol
                                       << " x (|want| + max|want| = " << scale << "); first " << at(firstBad)
                                       << "; worst " << at(worstAt) << " (shape " << ir::toString(got.dims()) << ")";
}

std::string describe(const OpSpec& s) {
  std::ostringstream o;
  o << s.op << " inputs";
  for (const OpInput& in : s.inputs) o << " " << (in.absent ? std::string("none") : ir::toString(in.value.dims()));
  for (const auto& [name, a] : s.attrs) {
    o << " " << name << "=";
    if (auto* i = std::get_if<int64_t>(&a)) o << *i;
    else if (auto* f = std::get_if<float>(&a)) o << *f;
    else if (auto* str = std::get_if<std::string>(&a)) o << *str;
    else if (auto* v = std::get_if<std::vector<int64_t>>(&a)) o << ir::toString(*v);
    else o << "?";
  }
  return o.str();
}

//! `spec` with every FP32 input (but those in `keep`) rounded to `type` and back, or converted to `type`.
OpSpec withInputs(const OpSpec& spec, DType type, bool convert, const std::set<std::size_t>& keep) {
  OpSpec out = spec;
  for (std::size_t i = 0; i < out.inputs.size(); ++i) {
    OpInput& in = out.inputs[i];
    if (in.absent || in.value.dtype() != DType::kFLOAT || keep.count(i)) continue;
    in.value = convert ? in.value.castTo(type) : in.value.castTo(type).castTo(DType::kFLOAT);
  }
  return out;
}

//! The CUDA tactic in `type` against the CPU reference in FP32 on the same (rounded) inputs.
void expectReducedMatchesRef(const OpSpec& spec, const std::string& tactic, DType type,
                             const std::set<std::size_t>& keep = {}, float rtol = 0.f) {
  if (rtol == 0.f) rtol = tolerance(type);
  const std::string what = tactic + " in " + dataTypeName(type) + " on " + describe(spec);
  OpSpec rounded = withInputs(spec, type, false, keep);
  // The CPU's binary .ref kernels don't read a fused activation (the CPU fuses
  // chains its own way): the reference is the op's .ref, then the activation's.
  OpSpec refSpec = rounded;
  std::string act;
  static const std::set<std::string> kBinary = {"Add", "Sub", "Mul", "Div", "Max", "Min"};
  if (auto it = refSpec.attrs.find("kiln_act"); it != refSpec.attrs.end() && kBinary.count(spec.op)) {
    act = std::get<std::string>(it->second);
    refSpec.attrs.erase(it);
  }
  std::vector<ir::Tensor> want, got;
  try {
    want = runTactic(refSpec, spec.op + ".ref");
    if (!act.empty()) {
      OpSpec then;
      then.op = act;
      then.inputs = {dyn(want[0])};
      want = runTactic(then, act + ".ref");
    }
    got = runOnGpu(withInputs(rounded, type, true, keep), tactic);
  } catch (const Error& e) {
    ADD_FAILURE() << what << ": " << e.what();
    return;
  }
  ASSERT_EQ(got.size(), want.size()) << what;
  for (std::size_t i = 0; i < got.size(); ++i) {
    if (want[i].dtype() == DType::kFLOAT) {
      EXPECT_EQ(got[i].dtype(), type) << what << ": output " << i << " is " << dataTypeName(got[i].dtype());
    }
    EXPECT_TRUE(closeTo(got[i], want[i], rtol)) << what << ", output " << i;
  }
}

OpSpec unary(const std::string& op, Dims dims, uint32_t seed, float lo = -3.f, float hi = 3.f) {
  OpSpec s;
  s.op = op;
  s.inputs.push_back(dyn(randomTensor(std::move(dims), seed, lo, hi)));
  return s;
}

const DType kReduced[] = {DType::kHALF, DType::kBF16};

TEST(CudaPrecision, UnaryAndBinaryInHalfAndBf16) {
  KILN_REQUIRE_GPU();
  for (DType t : kReduced) {
    for (const char* op : {"Relu", "Sigmoid", "Tanh", "Gelu", "Exp", "Neg", "Abs", "LeakyRelu", "HardSwish", "Erf"})
      for (const Dims& dims : std::vector<Dims>{{1}, {3, 5, 7}, {2, 1031}, {0, 4}})
        expectReducedMatchesRef(unary(op, dims, 7), std::string(op) + ".cuda", t);
    OpSpec clip = unary("Clip", {4, 33}, 3);
    clip.inputs.push_back(cst(floats({}, {-0.5f})));
    clip.inputs.push_back(cst(floats({}, {1.25f})));
    expectReducedMatchesRef(clip, "Clip.cuda", t);
    const std::vector<std::pair<Dims, Dims>> shapes = {
        {{17}, {17}}, {{2, 3, 4}, {4}}, {{2, 1, 5}, {3, 1}}, {{4, 1, 1, 3}, {1, 5, 7, 1}}, {{0, 3}, {3}}};
    for (const char* op : {"Add", "Sub", "Mul", "Div", "Max", "Min"})
      for (const auto& [a, b] : shapes) {
        OpSpec s;
        s.op = op;
        s.inputs = {dyn(randomTensor(a, 1)), dyn(randomTensor(b, 2, 0.5f, 2.f))};
        expectReducedMatchesRef(s, std::string(op) + ".cuda", t);
      }
    OpSpec fused;  // a binary op with a fused activation
    fused.op = "Add";
    fused.attrs["kiln_act"] = std::string("Sigmoid");
    fused.inputs = {dyn(randomTensor({3, 65}, 4)), dyn(randomTensor({65}, 5))};
    expectReducedMatchesRef(fused, "Add.cuda", t);
  }
}

TEST(CudaPrecision, SoftmaxLayerNormReduceInFp32Math) {
  KILN_REQUIRE_GPU();
  for (DType t : kReduced) {
    for (auto [dims, axis] : std::vector<std::pair<Dims, int64_t>>{
             {{3, 7}, -1}, {{2, 5, 3}, 1}, {{2, 1000}, 1}, {{4, 3, 2}, 0}, {{2, 4097}, -1}}) {
      for (const char* op : {"Softmax", "LogSoftmax"}) {
        OpSpec s = unary(op, dims, 5, -6.f, 6.f);
        s.attrs["axis"] = axis;
        expectReducedMatchesRef(s, std::string(op) + ".cuda", t);
      }
    }
    for (auto [dims, axis] : std::vector<std::pair<Dims, int64_t>>{{{2, 7, 33}, -1}, {{3, 4, 5}, 1}, {{1, 1000}, -1},
                                                                   {{2, 3, 768}, -1}}) {
      OpSpec ln;
      ln.op = "LayerNormalization";
      ln.attrs["axis"] = axis;
      ln.attrs["epsilon"] = 1e-5f;
      Dims norm(dims.begin() + (axis < 0 ? axis + static_cast<int64_t>(dims.size()) : axis), dims.end());
      // An offset mean: FP32 statistics matter (FP16 sums of 768 values near 40 would lose digits).
      ln.inputs = {dyn(randomTensor(dims, 1, 38.f, 42.f)), cst(randomTensor(norm, 2)), cst(randomTensor(norm, 3))};
      expectReducedMatchesRef(ln, "LayerNormalization.cuda", t);
    }
    for (const Dims& axes : std::vector<Dims>{{1}, {-1}, {1, 2}, {0}}) {
      for (const char* op : {"ReduceMean", "ReduceSum"}) {
        OpSpec r;
        r.op = op;
        r.attrs["keepdims"] = int64_t{0};
        r.inputs = {dyn(randomTensor({3, 40, 50}, 4)), cst(ints({int64_t(axes.size())}, axes))};
        expectReducedMatchesRef(r, std::string(op) + ".cuda", t);
      }
    }
  }
}

TEST(CudaPrecision, PoolsInHalfAndBf16) {
  KILN_REQUIRE_GPU();
  for (DType t : kReduced) {
    for (const char* op : {"MaxPool", "AveragePool"}) {
      OpSpec s = unary(op, {2, 3, 9, 9}, 4);
      s.attrs["kernel_shape"] = std::vector<int64_t>{3, 3};
      s.attrs["strides"] = std::vector<int64_t>{2, 2};
      s.attrs["pads"] = std::vector<int64_t>{1, 1, 1, 1};
      expectReducedMatchesRef(s, std::string(op) + ".cuda", t);
      s.attrs["ceil_mode"] = int64_t{1};
      s.inputs[0] = dyn(randomTensor({1, 2, 10, 7}, 9));
      expectReducedMatchesRef(s, std::string(op) + ".cuda", t);
    }
    expectReducedMatchesRef(unary("GlobalAveragePool", {2, 5, 7, 7}, 6), "GlobalAveragePool.cuda", t);
    expectReducedMatchesRef(unary("GlobalAveragePool", {1, 3, 33, 31}, 8), "GlobalAveragePool.cuda", t);
  }
}

TEST(CudaPrecision, DataMovementIsExactInHalfAndBf16) {
  KILN_REQUIRE_GPU();
  for (DType t : kReduced) {
    OpSpec tr = unary("Transpose", {2, 3, 4, 5}, 1);
    tr.attrs["perm"] = std::vector<int64_t>{2, 0, 3, 1};
    expectReducedMatchesRef(tr, "Transpose.cuda", t, {}, 1e-30f);
    OpSpec c;
    c.op = "Concat";
    c.attrs["axis"] = int64_t{1};
    c.inputs = {dyn(randomTensor({2, 3, 4}, 1)), dyn(randomTensor({2, 1, 4}, 2)), dyn(randomTensor({2, 5, 4}, 3))};
    expectReducedMatchesRef(c, "Concat.cuda", t, {}, 1e-30f);
    OpSpec g;
    g.op = "Gather";
    g.attrs["axis"] = int64_t{1};
    g.inputs = {dyn(randomTensor({5, 4, 3}, 1)), cst(ints({2, 3}, {0, -1, 2, 1, 2, 0}))};
    expectReducedMatchesRef(g, "Gather.cuda", t, {}, 1e-30f);
    OpSpec rs;
    rs.op = "Resize";
    rs.attrs["mode"] = std::string("nearest");
    rs.inputs = {dyn(randomTensor({2, 3, 5, 7}, 1)), none(), cst(floats({4}, {1, 1, 1.5f, 0.6f}))};
    expectReducedMatchesRef(rs, "Resize.cuda", t, {2}, 1e-30f);  // the scales stay FP32 (ONNX's tensor(float))
  }
}

TEST(CudaPrecision, CastBetweenFp32HalfBf16AndIntegersIsExact) {
  KILN_REQUIRE_GPU();
  // Ties, the largest/smallest normals, subnormals, overflow to infinity, signed zeros, infinities.
  const std::vector<float> values = {0.f,       -0.f,       1.f,      -2.5f,     1.f + 1.f / 2048, 1.f + 3.f / 2048,
                                     65504.f,   65520.f,    1e6f,     6.1e-5f,   5.96e-8f,         1e-9f,
                                     3.14159f,  -1e-3f,     INFINITY, -INFINITY, 1.00390625f,      255.5f};
  const int64_t n = static_cast<int64_t>(values.size());
  for (DType t : kReduced) {
    const int64_t code = t == DType::kHALF ? 10 : 16;
    OpSpec down;
    down.op = "Cast";
    down.attrs["to"] = code;
    down.inputs = {dyn(floats({n}, values))};
    std::vector<ir::Tensor> got = runOnGpu(down, "Cast.cuda");
    ASSERT_EQ(got.size(), 1u);
    ASSERT_EQ(got[0].dtype(), t);
    for (int64_t i = 0; i < n; ++i) {
      const uint16_t want = t == DType::kHALF ? floatToHalf(values[i]) : floatToBf16(values[i]);
      EXPECT_EQ(got[0].as<uint16_t>()[i], want) << "Cast float32 -> " << dataTypeName(t) << " of " << values[i]
                                                << " (element " << i << ")";
    }
    // Back to FP32 and to int32 / int64 / bool from the reduced values.
    OpSpec up;
    up.op = "Cast";
    up.inputs = {dyn(got[0])};
    for (DType to : {DType::kFLOAT, DType::kINT32, DType::kINT64, DType::kBOOL}) {
      up.attrs["to"] = int64_t{to == DType::kFLOAT ? 1 : to == DType::kINT32 ? 6 : to == DType::kINT64 ? 7 : 9};
      if (to != DType::kFLOAT) {  // integers: finite values only (float -> int of inf is undefined)
        std::vector<float> finite;
        for (float v : values)
          if (std::fabs(v) <= 65504.f) finite.push_back(v);  // finite in FP16 and BF16 alike
        up.inputs = {dyn(ir::Tensor::fromFloat(finite, {int64_t(finite.size())}).castTo(t))};
      } else {
        up.inputs = {dyn(got[0])};
      }
      std::vector<ir::Tensor> back = runOnGpu(up, "Cast.cuda");
      ir::Tensor want = up.inputs[0].value.castTo(to);  // the host conversion (FP16/BF16 -> FP32 is exact)
      ASSERT_EQ(back[0].dtype(), to);
      ASSERT_EQ(back[0].bytes(), want.bytes());
      const std::vector<float> src = up.inputs[0].value.toFloat();
      for (int64_t i = 0; i < want.numel(); ++i) {
        const std::size_t es = dtypeSize(to);
        EXPECT_EQ(std::memcmp(static_cast<const uint8_t*>(back[0].data()) + i * es,
                              static_cast<const uint8_t*>(want.data()) + i * es, es),
                  0)
            << "Cast " << dataTypeName(t) << " -> " << dataTypeName(to) << " of " << src[i] << " (element " << i
            << ")";
      }
    }
    // int64 -> reduced.
    OpSpec fromInt;
    fromInt.op = "Cast";
    fromInt.attrs["to"] = code;
    fromInt.inputs = {dyn(ints({6}, {0, 1, -7, 2049, 70000, -300}))};
    std::vector<ir::Tensor> r = runOnGpu(fromInt, "Cast.cuda");
    ir::Tensor want = fromInt.inputs[0].value.castTo(t);
    for (int64_t i = 0; i < 6; ++i)
      EXPECT_EQ(r[0].as<uint16_t>()[i], want.as<uint16_t>()[i])
          << "Cast int64 -> " << dataTypeName(t) << " element " << i;
  }
}

TEST(CudaPrecision, GemmAndMatMulInHalfAndBf16WithEpilogues) {
  KILN_REQUIRE_GPU();
  for (DType t : kReduced) {
    for (const auto& [a, b] : std::vector<std::pair<Dims, Dims>>{{{3, 5}, {5, 7}},
                                                                  {{1, 1}, {1, 1}},
                                                                  {{2, 3, 5}, {5, 4}},
                                                                  {{2, 3, 5}, {2, 5, 4}},
                                                                  {{65, 129}, {129, 33}},
                                                                  {{128, 256}, {256, 64}}}) {
      OpSpec s;
      s.op = "MatMul";
      s.inputs = {dyn(randomTensor(a, 1)), cst(randomTensor(b, 2))};
      expectReducedMatchesRef(s, "MatMul.cublaslt", t);
    }
    for (const char* act : {"", "Relu", "GeluTanh", "Gelu"}) {  // bias+ReLU/GELU epilogues; erf GELU runs after
      OpSpec s;
      s.op = "MatMul";
      if (*act) s.attrs["kiln_act"] = std::string(act);
      s.inputs = {dyn(randomTensor({2, 3, 64}, 1)), cst(randomTensor({64, 40}, 2)), cst(randomTensor({40}, 3))};
      expectReducedMatchesRef(s, "MatMul.cublaslt", t);
    }
    for (int ta = 0; ta < 2; ++ta)
      for (int tb = 0; tb < 2; ++tb) {
        OpSpec s;
        s.op = "Gemm";
        s.attrs["transA"] = int64_t{ta};
        s.attrs["transB"] = int64_t{tb};
        s.attrs["alpha"] = 0.75f;
        s.attrs["kiln_act"] = std::string("Relu");
        const int64_t m = 5, k = 24, n = 8;
        s.inputs = {dyn(randomTensor(ta ? Dims{k, m} : Dims{m, k}, 1)),
                    cst(randomTensor(tb ? Dims{n, k} : Dims{k, n}, 2)), cst(randomTensor({n}, 3))};
        expectReducedMatchesRef(s, "Gemm.cublaslt", t);
      }
    OpSpec full;  // a full C with beta
    full.op = "Gemm";
    full.attrs["beta"] = 0.5f;
    full.inputs = {dyn(randomTensor({4, 16}, 1)), cst(randomTensor({16, 8}, 2)), cst(randomTensor({4, 8}, 3))};
    expectReducedMatchesRef(full, "Gemm.cublaslt", t);
  }
}

TEST(CudaPrecision, ConvInHalfAndBf16WithBiasActivationResidual) {
  KILN_REQUIRE_GPU();
  const std::vector<ConvCase> cases = {
      {{1, 3, 8, 8}, {4, 3, 3, 3}, {1, 1, 1, 1}, {1, 1}, {1, 1}, 1, true, false, "Relu"},
      {{2, 3, 9, 7}, {5, 3, 3, 3}, {0, 0, 0, 0}, {2, 2}, {1, 1}, 1, false, false, ""},
      {{1, 4, 11, 11}, {6, 2, 3, 3}, {2, 2, 2, 2}, {1, 1}, {2, 2}, 2, true, true, "Sigmoid"},
      {{2, 8, 5, 5}, {8, 1, 3, 3}, {1, 1, 1, 1}, {1, 1}, {1, 1}, 8, true, true, "Relu"},
      {{2, 64, 14, 14}, {32, 64, 1, 1}, {0, 0, 0, 0}, {1, 1}, {1, 1}, 1, true, false, "Relu"},  // tensor-core sized
  };
  for (DType t : kReduced)
    for (const ConvCase& c : cases)
      for (const char* tactic : {"Conv.cudnn", "Conv.cudnn_graph"}) {
        const OpSpec s = convSpec(c);
        expectReducedMatchesRef(s, tactic, t);
      }
}

TEST(CudaPrecision, Tf32GemmAndConvStayCloseToFp32) {
  KILN_REQUIRE_GPU();
  OpSpec mm;
  mm.op = "MatMul";
  mm.attrs["kiln_tf32"] = int64_t{1};
  mm.inputs = {dyn(randomTensor({65, 257}, 1)), cst(randomTensor({257, 33}, 2))};
  std::vector<ir::Tensor> want = runTactic(mm, "MatMul.ref"), got = runOnGpu(mm, "MatMul.cublaslt");
  EXPECT_TRUE(closeTo(got[0], want[0], tolerance(DType::kFLOAT))) << "MatMul.cublaslt with kiln_tf32 " << describe(mm);
  OpSpec conv;
  conv.op = "Conv";
  conv.attrs["pads"] = std::vector<int64_t>{1, 1, 1, 1};
  conv.attrs["kiln_tf32"] = int64_t{1};
  conv.inputs = {dyn(randomTensor({2, 32, 12, 12}, 1)), cst(randomTensor({16, 32, 3, 3}, 2)), cst(randomTensor({16}, 3))};
  want = runTactic(conv, "Conv.ref");
  for (const char* tactic : {"Conv.cudnn", "Conv.cudnn_graph"}) {
    got = runOnGpu(conv, tactic);
    EXPECT_TRUE(closeTo(got[0], want[0], tolerance(DType::kFLOAT))) << tactic << " with kiln_tf32 " << describe(conv);
  }
}

// ---- Whole engines through the public API: CUDA FP16/BF16/TF32 against the CPU engine in FP32.

std::unique_ptr<IHostMemory> buildModel(const std::string& path, DeviceType device, DType precision, bool tf32,
                                        RecordingLogger& logger,
                                        const std::function<void(INetworkDefinition&, IBuilderConfig&)>& edit = {}) {
  std::unique_ptr<IBuilder> builder(createInferBuilder(logger));
  std::unique_ptr<INetworkDefinition> net(builder->createNetworkV2(0));
  std::unique_ptr<onnx::IParser> parser(onnx::createParser(*net, logger));
  if (!parser->parseFromFile(path.c_str(), 0)) return nullptr;
  std::unique_ptr<IBuilderConfig> config(builder->createBuilderConfig());
  if (edit) edit(*net, *config);
  config->setDefaultDeviceType(device);
  if (precision == DType::kHALF) config->setFlag(BuilderFlag::kFP16);
  if (precision == DType::kBF16) config->setFlag(BuilderFlag::kBF16);
  if (!tf32) config->clearFlag(BuilderFlag::kTF32);
  return std::unique_ptr<IHostMemory>(builder->buildSerializedNetwork(*net, *config));
}

//! Runs `plan` on `inputs`; outputs come back on the host. Device engines get device buffers.
std::map<std::string, ir::Tensor> runPlan(const IHostMemory& plan, const std::map<std::string, ir::Tensor>& inputs,
                                          RecordingLogger& logger, std::string* error,
                                          std::vector<std::string>* layers = nullptr) {
  std::map<std::string, ir::Tensor> outputs;
  std::unique_ptr<IRuntime> runtime(createInferRuntime(logger));
  std::unique_ptr<ICudaEngine> engine(runtime->deserializeCudaEngine(plan.data(), plan.size()));
  if (!engine) return *error = "deserialize failed: " + logger.all(), outputs;
  std::unique_ptr<IExecutionContext> ctx(engine->createExecutionContext());
  if (!ctx) return *error = "createExecutionContext failed: " + logger.all(), outputs;
  if (layers)
    for (int32_t i = 0; i < engine->getNbLayers(); ++i) layers->push_back(engine->getLayerInformation(i));
  std::vector<std::shared_ptr<void>> keep;
  std::vector<std::pair<std::string, void*>> deviceOutputs;
  std::map<std::string, ir::Tensor> hostInputs;
  for (int32_t i = 0; i < engine->getNbIOTensors(); ++i) {
    const char* name = engine->getIOTensorName(i);
    const bool device = engine->getTensorLocation(name) == TensorLocation::kDEVICE;
    const bool isInput = engine->getTensorIOMode(name) == TensorIOMode::kINPUT;
    const kiln::Dims d = engine->getTensorShape(name);
    const std::vector<int64_t> dims(d.d, d.d + d.nbDims);
    ir::Tensor& host = isInput ? (hostInputs[name] = inputs.at(name).castTo(inputs.at(name).dtype()))
                               : (outputs[name] = ir::Tensor(engine->getTensorDataType(name), dims));
    void* addr = host.mutableData();
    if (device) {
      keep.push_back(cuda::backend().allocate(host.bytes()));
      addr = keep.back().get();
      if (isInput && cudaMemcpy(addr, host.data(), host.bytes(), cudaMemcpyHostToDevice) != cudaSuccess)
        return *error = std::string("upload of ") + name + " failed", outputs;
      if (!isInput) deviceOutputs.emplace_back(name, addr);
    }
    if (!ctx->setTensorAddress(name, addr)) return *error = std::string("setTensorAddress ") + name, outputs;
  }
  cudaStream_t stream = nullptr;
  const bool gpu = engine->getDeviceType() == DeviceType::kGPU;
  if (gpu && cudaStreamCreate(&stream) != cudaSuccess) return *error = "cudaStreamCreate failed", outputs;
  const bool ok = ctx->enqueueV3(stream);
  const cudaError_t sync = gpu ? cudaStreamSynchronize(stream) : cudaSuccess;
  if (gpu) cudaStreamDestroy(stream);
  if (!ok || sync != cudaSuccess)
    return *error = std::string("enqueueV3 failed (") + cudaGetErrorString(sync) + "): " + logger.all(), outputs;
  for (const auto& [name, addr] : deviceOutputs) {
    ir::Tensor& host = outputs.at(name);
    if (cudaMemcpy(host.mutableData(), addr, host.bytes(), cudaMemcpyDeviceToHost) != cudaSuccess)
      return *error = "download of " + name + " failed", outputs;
  }
  return outputs;
}

std::map<std::string, ir::Tensor> modelInputs(const std::string& model) {
  std::map<std::string, ir::Tensor> in;
  if (model == "small_cnn.onnx") {
    in["input"] = randomTensor({2, 3, 32, 32}, 11);
  } else {
    std::vector<int64_t> ids(32), mask(32, 1);
    for (int i = 0; i < 32; ++i) ids[i] = (i * 7 + 3) % 8;  // small ids: within any vocabulary the model has
    for (int i = 28; i < 32; ++i) mask[i] = 0;            // the second sequence is padded at the end
    in["input_ids"] = ir::Tensor::fromInt64(ids, {2, 16});
    in["attention_mask"] = ir::Tensor::fromInt64(mask, {2, 16});
  }
  return in;
}

// The harness itself, on the CPU engine (runs without a GPU): two runs agree and produce every output.
TEST(EnginePrecisionHarness, CpuEngineRunsThroughTheHarness) {
  for (const char* model : {"small_cnn.onnx", "small_transformer.onnx"}) {
    const char* src = std::getenv("KILN_SOURCE_DIR");
    const std::string path = std::string(src ? src : ".") + "/tests/models/" + model;
    RecordingLogger logger;
    auto plan = buildModel(path, DeviceType::kCPU, DType::kFLOAT, true, logger);
    ASSERT_TRUE(plan) << model << ": " << logger.all();
    std::string error;
    auto a = runPlan(*plan, modelInputs(model), logger, &error);
    ASSERT_TRUE(error.empty()) << model << ": " << error;
    auto b = runPlan(*plan, modelInputs(model), logger, &error);
    ASSERT_TRUE(error.empty()) << model << ": " << error;
    ASSERT_EQ(a.size(), 2u) << model;
    for (const auto& [name, t] : a) {
      EXPECT_GT(t.numel(), 0) << model << " " << name;
      EXPECT_TRUE(closeTo(b.at(name), t, 1e-6f)) << model << " " << name;
      float scale = 0;
      for (float v : t.toFloat()) scale = std::max(scale, std::fabs(v));
      EXPECT_GT(scale, 0.f) << model << " " << name << " is all zeros: the comparison would be vacuous";
    }
  }
}

class EnginePrecision : public ::testing::TestWithParam<std::tuple<const char*, DType, bool>> {};

TEST_P(EnginePrecision, CudaEngineMatchesTheCpuFp32Engine) {
  KILN_REQUIRE_GPU();
  const auto [model, precision, tf32] = GetParam();
  const char* src = std::getenv("KILN_SOURCE_DIR");
  const std::string path = std::string(src ? src : ".") + "/tests/models/" + model;
  const std::string what = std::string(model) + " CUDA " + dataTypeName(precision) + (tf32 ? " (TF32 on)" : " (TF32 off)");
  RecordingLogger logger;
  auto cpuPlan = buildModel(path, DeviceType::kCPU, DType::kFLOAT, false, logger);
  ASSERT_TRUE(cpuPlan) << what << ": CPU build failed (set KILN_SOURCE_DIR to the source tree): " << logger.all();
  auto gpuPlan = buildModel(path, DeviceType::kGPU, precision, tf32, logger);
  ASSERT_TRUE(gpuPlan) << what << ": CUDA build failed: " << logger.all();
  const auto inputs = modelInputs(model);
  std::string error;
  auto want = runPlan(*cpuPlan, inputs, logger, &error);
  ASSERT_TRUE(error.empty()) << what << ": CPU run: " << error;
  std::vector<std::string> layers;
  auto got = runPlan(*gpuPlan, inputs, logger, &error, &layers);
  ASSERT_TRUE(error.empty()) << what << ": CUDA run: " << error;
  // The engine runs its convolutions and matmuls in the precision asked for (layer information: output dtypes).
  int heavy = 0;
  for (const std::string& info : layers) {
    if (info.find("[Conv]") == std::string::npos && info.find("[MatMul]") == std::string::npos &&
        info.find("[Gemm]") == std::string::npos)
      continue;
    ++heavy;
    const std::string outs = info.substr(info.find("outputs=("));
    EXPECT_NE(outs.find(std::string(":") + dataTypeName(precision)), std::string::npos) << what << ": " << info;
  }
  EXPECT_GT(heavy, 0) << what;
  if (std::string(model) == "small_cnn.onnx" && precision != DType::kFLOAT) {  // convs and pools run NHWC
    int nhwc = 0;
    // small_cnn has no Transpose of its own, so any Transpose layer is one the layout pass put in. Which
    // kernel runs it (Transpose.tiled or Transpose.cuda) is the builder's timed choice: not checked here.
    for (const std::string& info : layers) nhwc += info.find(" [Transpose] ") != std::string::npos;
    EXPECT_GT(nhwc, 0) << what << ": no layout transpose, so the device layout pass did not fire";
  }
  ASSERT_EQ(got.size(), want.size()) << what;
  // FP16: issue #7's 1e-2; BF16 has 8 mantissa bits: 5e-2; FP32 with TF32: 1e-2; plain FP32: 1e-4.
  const float rtol = precision == DType::kHALF ? 1e-2f : precision == DType::kBF16 ? 5e-2f : tf32 ? 1e-2f : 1e-4f;
  for (const auto& [name, w] : want) {
    ASSERT_TRUE(got.count(name)) << what << ": no output " << name;
    EXPECT_EQ(got.at(name).dtype(), DType::kFLOAT) << what << ": output " << name << " must stay FP32";
    EXPECT_TRUE(closeTo(got.at(name), w, rtol)) << what << ", output \"" << name << "\"";
  }
}

// kFP16 with kOBEY_PRECISION_CONSTRAINTS and the Softmax layers held in FP32: the engine runs them in FP32
// (layer information), the rest in FP16, and still matches the CPU engine.
TEST(EnginePrecisionConstraints, ObeyedFp32SoftmaxInAnFp16Engine) {
  KILN_REQUIRE_GPU();
  for (const char* model : {"small_cnn.onnx", "small_transformer.onnx"}) {
    const char* src = std::getenv("KILN_SOURCE_DIR");
    const std::string path = std::string(src ? src : ".") + "/tests/models/" + model;
    RecordingLogger logger;
    auto cpuPlan = buildModel(path, DeviceType::kCPU, DType::kFLOAT, false, logger);
    ASSERT_TRUE(cpuPlan) << model << ": " << logger.all();
    int constrained = 0;
    auto gpuPlan = buildModel(path, DeviceType::kGPU, DType::kHALF, true, logger,
                              [&](INetworkDefinition& net, IBuilderConfig& config) {
                                config.setFlag(BuilderFlag::kOBEY_PRECISION_CONSTRAINTS);
                                for (int32_t i = 0; i < net.getNbLayers(); ++i)
                                  if (std::string(net.getLayer(i)->getOpType()) == "Softmax") {
                                    net.getLayer(i)->setPrecision(DataType::kFLOAT);
                                    ++constrained;
                                  }
                              });
    ASSERT_TRUE(gpuPlan) << model << ": CUDA FP16 build with an FP32 Softmax constraint failed: " << logger.all();
    ASSERT_GT(constrained, 0) << model << " has no Softmax layer";
    std::string error;
    const auto inputs = modelInputs(model);
    auto want = runPlan(*cpuPlan, inputs, logger, &error);
    ASSERT_TRUE(error.empty()) << model << ": CPU run: " << error;
    std::vector<std::string> layers;
    auto got = runPlan(*gpuPlan, inputs, logger, &error, &layers);
    ASSERT_TRUE(error.empty()) << model << ": CUDA run: " << error;
    int softmaxes = 0;
    for (const std::string& info : layers) {
      if (info.find("[Softmax]") == std::string::npos) continue;
      ++softmaxes;
      const std::string outs = info.substr(info.find("outputs=("));
      EXPECT_NE(outs.find(":float32"), std::string::npos) << model << ": the constrained Softmax: " << info;
    }
    EXPECT_EQ(softmaxes, constrained) << model;
    for (const auto& [name, w] : want) {
      ASSERT_TRUE(got.count(name)) << model << ": no output " << name;
      EXPECT_TRUE(closeTo(got.at(name), w, 1e-2f)) << model << " FP16 + FP32 Softmax, output \"" << name << "\"";
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Models, EnginePrecision,
                         ::testing::Values(std::make_tuple("small_cnn.onnx", DType::kFLOAT, false),
                                           std::make_tuple("small_cnn.onnx", DType::kFLOAT, true),
                                           std::make_tuple("small_cnn.onnx", DType::kHALF, true),
                                           std::make_tuple("small_cnn.onnx", DType::kBF16, true),
                                           std::make_tuple("small_transformer.onnx", DType::kFLOAT, false),
                                           std::make_tuple("small_transformer.onnx", DType::kFLOAT, true),
                                           std::make_tuple("small_transformer.onnx", DType::kHALF, true),
                                           std::make_tuple("small_transformer.onnx", DType::kBF16, true)));

}  // namespace
}  // namespace kiln::test
