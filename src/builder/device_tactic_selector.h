// Chooses a device tactic (and variant) for each node of a device build: the
// only candidate, the timing cache's answer, or the fastest by timing on the
// GPU at the first profile's opt shapes, as TensorRT's builder does.
#pragma once
#include <string>
#include <vector>

#include "backends/backend.h"
#include "builder/build_plan.h"
#include "ir/graph.h"

namespace kiln::builder {

struct DeviceChoice {
  const backends::DeviceTactic* tactic = nullptr;
  //! The chosen variant's node attributes (empty: the tactic's default), to set on the node.
  backends::TacticVariant variant;
  bool timed = false;
  bool cached = false;
};

//! One candidate: a tactic and one of its variants.
struct DeviceCandidate {
  const backends::DeviceTactic* tactic = nullptr;
  backends::TacticVariant variant;
  std::string label() const;  //!< "MatMul.cublaslt" or "MatMul.cublaslt#3" (its variant's index)
  int index = 0;              //!< the variant's index in the tactic's list
};

//! Picks the tactic for `node` (the graph's node, possibly symbolic), given
//! the same node resolved at every profile extreme and at the first profile's
//! opt shapes. A candidate must support every extreme. Throws kiln::Error
//! naming the node when none does.
DeviceChoice chooseDeviceTactic(const backends::DeviceBackend& device, const ir::Node& node,
                                const std::vector<const ir::Node*>& extremes, const ir::Node& opt,
                                const BuildOptions& options, void* libraries);

//! Median milliseconds of one enqueue of `candidate` on `node` (static shapes)
//! on the device: inputs filled (constants copied, the rest pseudo-random), a
//! few warm-up runs first. Negative when the backend cannot time.
double timeDeviceCandidate(const backends::DeviceBackend& device, const ir::Node& node,
                           const DeviceCandidate& candidate, int iterations, void* libraries);

}  // namespace kiln::builder
