// Runs one CUDA tactic on a one-node graph (tests/unit/ops_nn/op_test_util.h's
// OpSpec) and returns its outputs on the host, for comparison with the CPU
// `.ref` kernel. Every GPU test starts with KILN_REQUIRE_GPU(), which skips
// the test, with the reason, on a machine without a usable GPU.
#pragma once
#include <cuda_runtime.h>
#include <gtest/gtest.h>

#include "backends/backend.h"
#include "backends/cuda/backend.h"
#include "unit/ops_nn/op_test_util.h"

#define KILN_REQUIRE_GPU()                                                        \
  do {                                                                            \
    const ::kiln::backends::HostDevice& host_ = ::kiln::cuda::backend().host();   \
    if (!host_.available) {                                                       \
      GTEST_SKIP() << "no GPU: " << host_.unavailable;                            \
    }                                                                             \
  } while (0)

namespace kiln::test {

//! `t` in a new device buffer, starting `offset` bytes past the allocation's (256-byte aligned) start.
inline std::shared_ptr<void> upload(const ir::Tensor& t, std::size_t offset = 0) {
  std::shared_ptr<void> d = cuda::backend().allocate(t.bytes() + offset);
  if (t.bytes()) {
    EXPECT_EQ(cudaMemcpy(static_cast<uint8_t*>(d.get()) + offset, t.data(), t.bytes(), cudaMemcpyHostToDevice),
              cudaSuccess);
  }
  return d;
}

//! Outputs of CUDA tactic `tactic` on `spec` (inputs uploaded, outputs poisoned
//! first). Every input and output starts `offset` bytes past a 256-byte
//! boundary: an odd offset of the element size exercises the kernels' unaligned paths.
inline std::vector<ir::Tensor> runOnGpu(const OpSpec& spec, const std::string& tactic, std::size_t offset = 0) {
  const backends::DeviceTactic* t = cuda::backend().findTactic(tactic);
  if (!t) throw Error("no CUDA tactic " + tactic);
  BuiltGraph b = buildGraph(spec);
  if (!t->supports(*b.node)) throw Error(tactic + " does not support " + b.node->describe());
  auto kernel = t->create(*b.node);
  std::vector<std::shared_ptr<void>> keep;
  std::vector<backends::TensorView> in(b.node->inputs.size()), out(b.node->outputs.size());
  for (std::size_t i = 0; i < b.node->inputs.size(); ++i) {
    const ir::Value* v = b.node->inputs[i];
    if (!v) continue;
    const ir::Tensor& host = v->isConstant() ? *v->constant : spec.inputs.at(i).value;
    keep.push_back(upload(host, offset));
    in[i] = cpu::makeView(static_cast<uint8_t*>(keep.back().get()) + offset, host.dtype(), host.dims());
  }
  std::vector<ir::Tensor> results;
  for (std::size_t i = 0; i < b.node->outputs.size(); ++i) {
    const ir::Value* v = b.node->outputs[i];
    results.emplace_back(v->dtype, ir::staticDims(v->shape));
    keep.push_back(cuda::backend().allocate(results.back().bytes() + offset));
    uint8_t* data = static_cast<uint8_t*>(keep.back().get()) + offset;
    cudaMemset(data, 0xff, results.back().bytes());  // NaN poison: every element must be written
    out[i] = cpu::makeView(data, v->dtype, results.back().dims());
  }
  std::shared_ptr<void> workspace = cuda::backend().allocate(kernel->workspaceBytes());
  std::shared_ptr<void> libs = cuda::backend().createLibraries();
  cudaStream_t stream = nullptr;
  EXPECT_EQ(cudaStreamCreate(&stream), cudaSuccess);
  backends::DeviceLaunch launch{stream, workspace.get(), libs.get()};
  kernel->enqueue(launch, in.data(), out.data());
  cuda::backend().synchronize(stream);
  cudaStreamDestroy(stream);
  for (std::size_t i = 0; i < results.size(); ++i)
    EXPECT_EQ(cudaMemcpy(results[i].mutableData(), out[i].data, results[i].bytes(), cudaMemcpyDeviceToHost),
              cudaSuccess);
  return results;
}

//! The CUDA tactic against the CPU reference tactic `<op>.ref` on `spec`.
inline void expectMatchesRef(const OpSpec& spec, const std::string& cudaTactic, float atol = 1e-4f,
                             float rtol = 1e-4f) {
  std::vector<ir::Tensor> want = runTactic(spec, spec.op + ".ref");
  std::vector<ir::Tensor> got = runOnGpu(spec, cudaTactic);
  ASSERT_EQ(got.size(), want.size());
  for (std::size_t i = 0; i < got.size(); ++i) EXPECT_TRUE(near(got[i], want[i], atol, rtol)) << cudaTactic;
}

//! One Conv test case (the CUDA conv tests' tables): shapes and attributes,
//! which fused inputs it has, the fused activation ("" for none), a name for messages.
struct ConvCase {
  std::vector<int64_t> x, w, pads, strides, dilations;
  int64_t group;
  bool bias, residual;
  std::string act;
  const char* name = "";
};

//! The Conv node of `c` with random data (x dynamic; w, bias constant; the residual
//! shaped like the output).
inline OpSpec convSpec(const ConvCase& c) {
  OpSpec s;
  s.op = "Conv";
  s.attrs["pads"] = c.pads;
  s.attrs["strides"] = c.strides;
  s.attrs["dilations"] = c.dilations;
  s.attrs["group"] = c.group;
  if (!c.act.empty()) s.attrs["kiln_act"] = c.act;
  s.inputs = {dyn(randomTensor(c.x, 1)), cst(randomTensor(c.w, 2))};
  s.inputs.push_back(c.bias ? cst(randomTensor({c.w[0]}, 3)) : none());
  if (c.residual) {
    BuiltGraph probe = buildGraph(s);
    s.inputs.push_back(dyn(randomTensor(ir::staticDims(probe.node->outputs[0]->shape), 4)));
  }
  return s;
}

}  // namespace kiln::test

