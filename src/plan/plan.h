// The plan: what the builder writes and the runtime reads.
//
// File layout: a 64-byte header (magic "KILNPLAN", format version, section
// sizes, CRC-32 of everything after the header), then a FlatBuffers body
// (schema in plan.fbs: metadata, values, layers with attributes and tactics,
// the memory plan), then the weights blob with every constant 64-byte aligned
// so the runtime can point into it without copying. The reader checks size,
// magic, version, CRC and runs the FlatBuffers verifier before reading anything.
// Header layout and helpers: plan_format.h; checksum: crc32.h.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "ir/graph.h"

namespace kiln::plan {

//! 2: subgraph attributes (If/Loop/Scan).
//! 3: layers whose meaning a version-2 reader would miss: KilnReformat and
//! KilnScaledConv, Concat / Split with kiln_nhwc (their data channels-last
//! inside a oneDNN chain: read as NCHW they would give wrong results, not an error).
//! 4: the same for Mul and GlobalAverage/MaxPool with kiln_nhwc (a chain through a
//! squeeze-excitation gate), and KilnScaledConv.onednn.
constexpr uint32_t kFormatVersion = 4;

struct PlanMetadata {
  std::string kilnVersion;  //!< "0.1.0"
  std::string device;       //!< "cpu" or "cuda"
  std::string isa;          //!< CPU: "avx512" | "avx2" | "generic"; CUDA: "sm_90"
  std::string networkName;
  // CUDA plans only (empty / 0 for the CPU): the rest of what the plan is bound to.
  std::string deviceName;      //!< the GPU it was built on ("NVIDIA H100 80GB HBM3")
  int cudaRuntimeVersion = 0;  //!< 13000 is CUDA 13.0
  int64_t cudnnVersion = 0;    //!< 92600 is cuDNN 9.26.0
  int64_t cublasLtVersion = 0; //!< 130100 is cuBLASLt 13.1.0
};

//! The shape range of one dynamic input in one optimization profile.
struct ProfileInput {
  std::string name;
  std::vector<int64_t> min, opt, max;
  //! For a shape-tensor input (IOptimizationProfile::setShapeValues): the range
  //! of its values; empty for other inputs.
  std::vector<int64_t> minValues, optValues, maxValues;
  bool isShapeTensor() const { return !optValues.empty(); }
};
using Profile = std::vector<ProfileInput>;

//! A plugin library carried in the plan (IBuilderConfig::setPluginsToSerialize).
struct PluginLibrary {
  std::string name;  //!< file name, for messages
  std::vector<uint8_t> bytes;
};

struct PlanContents {
  PlanMetadata meta;
  //! The optimized graph: nodes in execution order with `tactic` set;
  //! constants (packed weights included) are Values with `constant`.
  std::unique_ptr<ir::Graph> graph;
  //! Plugin libraries to load before the graph's plugins are created.
  std::vector<PluginLibrary> pluginLibraries;
  //! Arena offset of every activation value, by value name. Graph inputs and
  //! outputs are not in the arena (the user binds them).
  std::unordered_map<std::string, int64_t> arenaOffsets;
  int64_t arenaBytes = 0;
  //! Bytes reserved for each arena value (its size at the largest shape of
  //! every profile); a value of a static graph reserves exactly its size.
  std::unordered_map<std::string, int64_t> arenaCapacity;
  //! Optimization profiles (empty for a fully static network).
  std::vector<Profile> profiles;
  //! Scratch bytes a context needs beside the arena (largest kernel workspace).
  int64_t workspaceBytes = 0;
};

//! Serializes a plan. Throws kiln::Error on what cannot be written.
std::vector<uint8_t> writePlan(const PlanContents& plan);

//! Reads a plan; constants point into `data`, which `owner` keeps alive
//! (pass a 64-byte aligned buffer: an unaligned one is copied once into an
//! aligned buffer that the constants then keep alive instead).
//! Throws kiln::Error with a one-line reason for an empty, truncated,
//! corrupt, foreign-version or malformed plan (the caller checks meta.device).
PlanContents readPlan(const uint8_t* data, std::size_t size, std::shared_ptr<const void> owner);

}  // namespace kiln::plan
