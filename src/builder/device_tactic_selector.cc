#include "builder/device_tactic_selector.h"

#include <algorithm>
#include <cstring>
#include <random>

#include "backends/cpu/kernel.h"  // makeView
#include "builder/tactic_selector.h"
#include "builder/timing_cache.h"
#include "core/error.h"

namespace kiln::builder {

namespace {

void logVerbose(const BuildOptions& options, const std::string& line) {
  if (options.log) options.log(ILogger::Severity::kVERBOSE, line);
}

//! The candidates for `node`: each tactic that supports every extreme, with
//! each of its variants (at opt shapes), highest priority first.
std::vector<DeviceCandidate> candidatesFor(const backends::DeviceBackend& device, const ir::Node& node,
                                           const std::vector<const ir::Node*>& extremes, const ir::Node& opt,
                                           void* libraries, const BuildOptions& options) {
  std::vector<DeviceCandidate> out;
  for (const backends::DeviceTactic* t : device.tacticsFor(node.op)) {
    bool everywhere = true;
    for (const ir::Node* e : extremes) everywhere = everywhere && t->supports(*e);
    if (!everywhere) continue;
    std::vector<backends::TacticVariant> variants;
    if (t->variants && libraries) {
      try {
        variants = t->variants(opt, libraries);
      } catch (const Error& e) {  // a library that offers nothing for this node: the default alone
        logVerbose(options, strCat("  tactic ", t->name, " for ", node.describe(), ": no variants (", e.what(), ")"));
      }
    }
    if (variants.empty()) {
      out.push_back({t, {}, 0});
      continue;
    }
    for (std::size_t v = 0; v < variants.size(); ++v)
      out.push_back({t, std::move(variants[v]), static_cast<int>(v)});
  }
  return out;
}

//! Device memory holding `bytes` host bytes.
std::shared_ptr<void> upload(const backends::DeviceBackend& device, const void* bytes, std::size_t n) {
  auto d = device.allocate(n);
  device.copyAsync(d.get(), bytes, n, backends::CopyKind::kHostToDevice, nullptr);
  return d;
}

}  // namespace

std::string DeviceCandidate::label() const {
  return variant.empty() ? tactic->name : strCat(tactic->name, "#", index);
}

double timeDeviceCandidate(const backends::DeviceBackend& device, const ir::Node& node,
                           const DeviceCandidate& candidate, int iterations, void* libraries) {
  ScratchNode s;
  makeScratch(node, s);
  for (const auto& [name, value] : candidate.variant) s.node->attrs[name] = value;
  std::unique_ptr<backends::DeviceKernel> kernel = candidate.tactic->create(*s.node);

  // Constants as they are (a kernel may depend on them: weights, shapes,
  // indices); other inputs pseudo-random floats, or zeros (valid indices) for
  // other dtypes, as the CPU timer fills them.
  std::vector<std::shared_ptr<void>> memory;
  std::vector<backends::TensorView> in(s.node->inputs.size()), out(s.node->outputs.size());
  std::mt19937 rng(1234);
  std::uniform_real_distribution<float> dist(-1.f, 1.f);
  for (std::size_t i = 0; i < s.node->inputs.size(); ++i) {
    const ir::Value* v = s.node->inputs[i];
    if (!v) continue;
    std::vector<int64_t> dims = v->isConstant() ? v->constant->dims() : ir::staticDims(v->shape);
    std::size_t bytes = static_cast<std::size_t>(ir::numElements(dims) * dtypeSize(v->dtype));
    if (v->isConstant()) {
      memory.push_back(upload(device, v->constant->data(), bytes));
    } else {
      std::vector<uint8_t> host(bytes, 0);
      if (v->dtype == DType::kFLOAT)
        for (std::size_t k = 0; k < bytes / sizeof(float); ++k) {
          float x = dist(rng);
          std::memcpy(host.data() + k * sizeof(float), &x, sizeof(float));
        }
      memory.push_back(upload(device, host.data(), bytes));
    }
    in[i] = cpu::makeView(memory.back().get(), v->dtype, dims);
  }
  for (std::size_t i = 0; i < s.node->outputs.size(); ++i) {
    const ir::Value* v = s.node->outputs[i];
    std::vector<int64_t> dims = ir::staticDims(v->shape);
    memory.push_back(device.allocate(static_cast<std::size_t>(ir::numElements(dims) * dtypeSize(v->dtype))));
    out[i] = cpu::makeView(memory.back().get(), v->dtype, dims);
  }
  auto workspace = device.allocate(kernel->workspaceBytes());
  device.synchronize(nullptr);  // the uploads above, on the default stream
  backends::DeviceLaunch launch;
  launch.workspace = workspace.get();
  launch.libraries = libraries;
  return device.timeEnqueue(
      [&](void* stream) {
        launch.stream = stream;
        kernel->enqueue(launch, in.data(), out.data());
      },
      iterations);
}

DeviceChoice chooseDeviceTactic(const backends::DeviceBackend& device, const ir::Node& node,
                                const std::vector<const ir::Node*>& extremes, const ir::Node& opt,
                                const BuildOptions& options, void* libraries) {
  std::vector<DeviceCandidate> candidates = candidatesFor(device, node, extremes, opt, libraries, options);
  KILN_CHECK(!candidates.empty(), node.describe(), ": no ", device.device(), " kernel supports it",
             device.tacticsFor(node.op).empty() ? " (the CUDA backend lacks this op)"
                                                : " (dtypes, attributes or shapes it lacks)");
  DeviceChoice choice;
  choice.tactic = candidates[0].tactic;
  choice.variant = candidates[0].variant;
  if (candidates.size() == 1 || options.timingIterations <= 0) return choice;

  std::string key = TimingCache::keyOf(opt, device.host().target.arch);
  if (options.timingCache) {
    if (auto hit = options.timingCache->find(key)) {
      for (const DeviceCandidate& c : candidates)
        if (c.label() == hit->tactic) {
          choice.tactic = c.tactic;
          choice.variant = c.variant;
          choice.cached = true;
          return choice;
        }
    }
  }
  double best = -1;
  std::string bestLabel;
  for (const DeviceCandidate& c : candidates) {
    double ms = -1;
    try {
      ms = timeDeviceCandidate(device, opt, c, options.timingIterations, libraries);
    } catch (const Error& e) {  // a candidate that fails to run at these shapes is not chosen
      logVerbose(options, strCat("  tactic ", c.label(), " for ", node.describe(), ": failed (", e.what(), ")"));
      continue;
    }
    if (ms < 0) return choice;  // this backend cannot time: priority order
    logVerbose(options, strCat("  tactic ", c.label(), " for ", node.describe(), ": ", ms, " ms"));
    if (best < 0 || ms < best) {
      best = ms;
      bestLabel = c.label();
      choice.tactic = c.tactic;
      choice.variant = c.variant;
    }
  }
  if (best < 0) return choice;  // every candidate failed: the first; the runtime reports its error
  choice.timed = true;
  if (options.timingCache) options.timingCache->put(key, TimingEntry{bestLabel, best});
  return choice;
}

}  // namespace kiln::builder
