// The device precision pass (CUDA builds, after the graph passes, before
// tactic choice): which floating type each layer runs in, and the graph
// rewritten so that every layer reads and writes exactly that type.
//
//  - Per layer the wanted type is its precision constraint (ILayer::setPrecision,
//    node attribute `kiln_precision`) when kOBEY/kPREFER_PRECISION_CONSTRAINTS
//    is set, else FP16 under kFP16, else BF16 under kBF16, else FP32. A
//    reduced type is taken only where some device tactic supports the layer
//    in it (`supported`); otherwise the layer stays FP32 (an obeyed constraint
//    that no tactic meets is an error, a preferred one a warning).
//  - Rewriting: a reduced layer's FP32 activations and weights become that
//    type; weights (constants) are converted here, at build time, so the plan
//    stores them in the type the layer reads (finite values beyond the type's
//    range are clamped to its largest finite value, with a warning, as TensorRT does). Where a producer's type and a
//    consumer's differ, a Cast layer is inserted (one per value and type,
//    shared by every consumer). Network inputs and outputs keep the type the
//    network gives them: FP32 unless an output's layer has setOutputType.
//  - TF32 (kTF32, on by default): every layer left in FP32 gets the attribute
//    `kiln_tf32` = 1, which the cuBLASLt and cuDNN tactics read (at build and
//    at load time, so the runtime uses what the build chose).
#pragma once
#include <functional>
#include <string>
#include <vector>

#include "ir/graph.h"

namespace kiln::builder {

struct PrecisionOptions {
  bool tf32 = true;
  bool fp16 = false, bf16 = false;
  bool obeyConstraints = false;    //!< kOBEY_PRECISION_CONSTRAINTS: a constraint no tactic meets fails the build
  bool preferConstraints = false;  //!< kPREFER_PRECISION_CONSTRAINTS: ... is a warning
};

//! Whether some device tactic supports node `index` (of graph.nodeList(),
//! before this pass rewrites anything) when its precision-following inputs
//! and outputs are of type `type` (kHALF or kBF16).
using PrecisionSupport = std::function<bool(std::size_t index, DType type)>;

struct PrecisionResult {
  int reducedLayers = 0;  //!< layers now running in FP16 or BF16
  int castsInserted = 0;
  std::vector<std::string> warnings;  //!< preferred constraints not met, weights clamped to the type's range
  std::vector<std::string> log;       //!< one line per reduced layer, for --verbose
};

//! Node attributes the API's layer precision calls set.
inline constexpr const char* kPrecisionAttr = "kiln_precision";      //!< int: the DType the layer should run in
inline constexpr const char* kOutputTypesAttr = "kiln_output_types";  //!< ints: per output a DType, -1 = unset
inline constexpr const char* kTf32Attr = "kiln_tf32";

//! Whether input `index` of `node` follows the layer's precision (its FP32
//! data and weights); false for inputs ONNX types apart from the data
//! (Resize's roi and scales) and for non-float inputs.
bool followsPrecision(const ir::Node& node, std::size_t index);
//! Whether `node`'s float outputs follow its precision (false for Cast,
//! whose output type is its `to` attribute).
bool outputsFollowPrecision(const ir::Node& node);

//! Runs the pass on `graph` (topologically sorted, shapes inferred). Throws
//! kiln::Error for an obeyed constraint no tactic meets, naming the layer.
PrecisionResult assignDevicePrecision(ir::Graph& graph, const PrecisionOptions& options,
                                      const PrecisionSupport& supported);

//! Sets every precision-following FP32 input and output of `node` to `type`
//! (the dtypes only; constant data is untouched) and returns what it changed,
//! so `restoreTypes` can undo it: the builder's trial for PrecisionSupport.
std::vector<std::pair<ir::Value*, DType>> retypeForTrial(ir::Node& node, DType type);
void restoreTypes(const std::vector<std::pair<ir::Value*, DType>>& changed);

}  // namespace kiln::builder
