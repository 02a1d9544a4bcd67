// kilnexec: the command-line options (trtexec spelling) and their parsing.
// Parsing only checks syntax and values; whether a tensor name exists is
// known only once the model is loaded, so those checks live with the model.
#pragma once
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "kiln/kiln.h"

namespace kilnexec {

//! A one-line, user-facing error: the message says what was wrong and where.
class ToolError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

//! One `name:1x3x224x224` entry of --shapes/--minShapes/--optShapes/--maxShapes.
struct ShapeSpec {
  std::string name;
  std::vector<int64_t> dims;
};

//! One optimization profile's shapes: the k-th --minShapes, --optShapes and
//! --maxShapes of the command line (trtexec's rule: repeating the group adds a profile).
struct ProfileShapes {
  std::vector<ShapeSpec> min, opt, max;
};

//! One `name:file.bin` entry of --loadInputs.
struct InputFile {
  std::string name;
  std::string path;
};

struct MemoryPool {
  kiln::MemoryPoolType pool;
  std::size_t bytes;
};

struct Options {
  // Model.
  std::string onnx;
  std::string loadEngine;
  std::string saveEngine;

  // Plugins: libraries loaded before the model (--plugins and --staticPlugins
  // land in staticPlugins), and those asked to be serialized with the engine.
  std::vector<std::string> staticPlugins, dynamicPlugins, pluginsToSerialize;

  // Build.
  std::vector<ShapeSpec> shapes;
  std::vector<ProfileShapes> profiles;  //!< empty: no --minShapes/--optShapes/--maxShapes
  bool fp16 = false, bf16 = false, int8 = false, best = false, noTF32 = false;
  std::string precisionConstraints = "none";  //!< none | prefer | obey (kPREFER/kOBEY_PRECISION_CONSTRAINTS)
  //! --layerPrecisions / --layerOutputTypes: layer name ("*": every layer) -> type(s) (one per output for the latter).
  std::vector<std::pair<std::string, std::vector<kiln::DataType>>> layerPrecisions, layerOutputTypes;
  std::vector<MemoryPool> memPools;
  //! --tacticSources: sources to add (+) and remove (-) from the builder's default, in order.
  std::vector<std::pair<bool, kiln::TacticSource>> tacticSources;
  std::string timingCacheFile;
  int threads = 0;  //!< 0: all cores
  int profile = 0;  //!< --profile: the optimization profile inference runs with
  std::string device = "cpu";

  // Inference.
  bool skipInference = false;
  int iterations = 10;
  double warmUpMs = 200;
  double durationS = 3;
  std::vector<InputFile> loadInputs;
  bool noDataTransfers = false, useCudaGraph = false, useSpinWait = false;
  int streams = 1;  //!< --infStreams=N (TensorRT 10's name) or --streams=N: contexts run concurrently (device only)
  bool separateProfileRun = false;

  // Reporting.
  bool verbose = false;
  int avgRuns = 10;
  std::vector<double> percentiles{90, 95, 99};
  std::string exportOutput, exportTimes, exportProfile, exportLayerInfo;
  bool dumpProfile = false, dumpOutput = false, dumpLayerInfo = false;

  //! The command line as typed, echoed in the &&&& RUNNING/PASSED lines.
  std::string commandLine;

  bool profiling() const { return dumpProfile || !exportProfile.empty(); }
};

//! Outcome of parseOptions: run, or exit at once with `exitCode` (--help, or an
//! error already printed as one line on stderr).
struct ParseResult {
  bool run = false;
  int exitCode = 0;
  Options options;
};

ParseResult parseOptions(int argc, char** argv);

// Value syntax helpers, exposed for the checks that need the model.
std::vector<int64_t> parseDims(const std::string& text, const std::string& flag);
std::string dimsToString(const std::vector<int64_t>& dims);

}  // namespace kilnexec
