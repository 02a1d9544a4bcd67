// Kiln public API: custom layers (plugins), shaped like TensorRT 10's IPluginV3.
//
// A plugin is an object with capability interfaces: core (who it is), build
// (output types and shapes, supported formats, workspace) and runtime
// (enqueue, serialization). A creator makes plugins from fields; the plugin
// registry maps (name, version, namespace) to creators. The ONNX parser asks
// the registry for ops it has no importer for, and a plan records each plugin
// as (name, version, namespace, fields) and re-creates it from the registry
// when it is loaded.
//
// Differences from TensorRT, on purpose:
//  - Methods a plugin implements are not noexcept: Kiln catches what plugin
//    code throws and reports it (a TensorRT plugin's noexcept overrides still
//    compile). A plugin that returns an error status is reported too.
//  - Every interface here is header-only (pure virtual or inline), so a plugin
//    library needs no Kiln symbol: it includes this header and exports
//    `getCreators` (see KILN_PLUGIN_LIBRARY_ENTRY below).
//  - Kiln re-creates plugins from their creator at build time too, so a plugin
//    added with INetworkDefinition::addPluginV3 needs its creator registered,
//    and its creator must accept the plugin's own getFieldsToSerialize()
//    fields in both phases.
//  - The CPU backend passes a null stream to enqueue and host pointers.
#pragma once
#include <cstddef>
#include <cstdint>

#include "kiln/types.h"

// The stream type of enqueue; the same declaration as the CUDA runtime's.
struct CUstream_st;
typedef struct CUstream_st* cudaStream_t;

namespace kiln {

using AsciiChar = char;

// ---------------------------------------------------------------------------
// Versioned interfaces

//! What an interface is and which version of it an object implements.
struct InterfaceInfo {
  const AsciiChar* kind;
  int32_t major;
  int32_t minor;
};

enum class APILanguage : int32_t { kCPP = 0, kPYTHON = 1 };

class IVersionedInterface {
 public:
  virtual APILanguage getAPILanguage() const noexcept { return APILanguage::kCPP; }
  //! Kiln checks `kind` and `major` before it calls anything else.
  virtual InterfaceInfo getInterfaceInfo() const noexcept = 0;
  virtual ~IVersionedInterface() = default;
};

// ---------------------------------------------------------------------------
// Fields: the parameters a plugin is created from and serialized as

enum class PluginFieldType : int32_t {
  kFLOAT16 = 0,
  kFLOAT32 = 1,
  kFLOAT64 = 2,
  kINT8 = 3,
  kINT16 = 4,
  kINT32 = 5,
  kCHAR = 6,
  kDIMS = 7,
  kUNKNOWN = 8,  //!< raw bytes; length counts bytes
  kBF16 = 9,
  kINT64 = 10,
  kFP8 = 11,
  kINT4 = 12,  //!< packed two per byte; length counts elements
};

//! Bytes of `length` elements of `type`.
inline int64_t pluginFieldBytes(PluginFieldType type, int64_t length) noexcept {
  switch (type) {
    case PluginFieldType::kFLOAT16:
    case PluginFieldType::kBF16:
    case PluginFieldType::kINT16: return 2 * length;
    case PluginFieldType::kFLOAT32:
    case PluginFieldType::kINT32: return 4 * length;
    case PluginFieldType::kFLOAT64:
    case PluginFieldType::kINT64: return 8 * length;
    case PluginFieldType::kDIMS: return static_cast<int64_t>(sizeof(Dims)) * length;
    case PluginFieldType::kINT4: return (length + 1) / 2;
    default: return length;
  }
}

class PluginField {
 public:
  const AsciiChar* name = nullptr;
  //! Not owned: valid for as long as the collection holding it says.
  const void* data = nullptr;
  PluginFieldType type = PluginFieldType::kUNKNOWN;
  //! Number of elements (a kCHAR string: its characters, no terminator needed).
  int32_t length = 0;

  PluginField(const AsciiChar* name_ = nullptr, const void* data_ = nullptr,
              PluginFieldType type_ = PluginFieldType::kUNKNOWN, int32_t length_ = 0) noexcept
      : name(name_), data(data_), type(type_), length(length_) {}
};

struct PluginFieldCollection {
  int32_t nbFields = 0;
  const PluginField* fields = nullptr;
};

//! Which phase a plugin object is made for.
enum class TensorRTPhase : int32_t { kBUILD = 0, kRUNTIME = 1 };

enum class PluginCapabilityType : int32_t { kCORE = 0, kBUILD = 1, kRUNTIME = 2 };

// ---------------------------------------------------------------------------
// Tensor descriptions and symbolic shapes

struct PluginTensorDesc {
  Dims dims;
  DataType type = DataType::kFLOAT;
  TensorFormat format = TensorFormat::kLINEAR;
  float scale = 1.f;
};

//! A tensor at build time: its type, format, and the range of its shape
//! (desc.dims has -1 where a dimension varies within [min, max]).
struct DynamicPluginTensorDesc {
  PluginTensorDesc desc;
  Dims min;
  Dims max;
  Dims opt;
};

//! One dimension as an expression; a constant when known at build time.
class IDimensionExpr {
 public:
  virtual bool isConstant() const = 0;
  //! The value; only meaningful when isConstant().
  virtual int64_t getConstantValue() const = 0;
  virtual bool isSizeTensor() const = 0;

 protected:
  virtual ~IDimensionExpr() = default;
};

struct DimsExprs {
  int32_t nbDims = 0;
  const IDimensionExpr* d[Dims::MAX_DIMS] = {};
};

enum class DimensionOperation : int32_t {
  kSUM = 0,
  kPROD = 1,
  kMAX = 2,
  kMIN = 3,
  kSUB = 4,
  kEQUAL = 5,  //!< 1 if equal, else 0
  kLESS = 6,   //!< 1 if first < second, else 0
  kFLOOR_DIV = 7,
  kCEIL_DIV = 8,
};

//! Makes dimension expressions; they live as long as the builder's call.
class IExprBuilder {
 public:
  virtual const IDimensionExpr* constant(int64_t value) = 0;
  virtual const IDimensionExpr* operation(DimensionOperation op, const IDimensionExpr& first,
                                          const IDimensionExpr& second) = 0;
  //! A data-dependent output size; Kiln engines need static shapes, so the
  //! result is an unknown dimension.
  virtual const IDimensionExpr* declareSizeTensor(int32_t outputIndex, const IDimensionExpr& opt,
                                                  const IDimensionExpr& upper) = 0;

 protected:
  virtual ~IExprBuilder() = default;
};

// ---------------------------------------------------------------------------
// The plugin and its capabilities

class IPluginCapability : public IVersionedInterface {};

class IGpuAllocator;
class IErrorRecorder;

//! What attachToContext hands a plugin (Kiln's CPU contexts offer neither yet).
class IPluginResourceContext {
 public:
  virtual IGpuAllocator* getGpuAllocator() const noexcept = 0;
  virtual IErrorRecorder* getErrorRecorder() const noexcept = 0;
  virtual ~IPluginResourceContext() = default;
};

class IPluginV3 : public IVersionedInterface {
 public:
  InterfaceInfo getInterfaceInfo() const noexcept override { return InterfaceInfo{"PLUGIN", 1, 0}; }
  //! The capability of `type`, or nullptr when this object has none.
  virtual IPluginCapability* getCapabilityInterface(PluginCapabilityType type) = 0;
  //! A copy with the same parameters (and configuration, if configured).
  virtual IPluginV3* clone() = 0;
};

class IPluginV3OneCore : public IPluginCapability {
 public:
  InterfaceInfo getInterfaceInfo() const noexcept override { return InterfaceInfo{"PLUGIN_V3ONE_CORE", 1, 0}; }
  virtual const AsciiChar* getPluginName() const = 0;
  virtual const AsciiChar* getPluginVersion() const = 0;
  virtual const AsciiChar* getPluginNamespace() const = 0;
};

//! Status codes: 0 is success, anything else an error Kiln reports.
class IPluginV3OneBuild : public IPluginCapability {
 public:
  static constexpr int32_t kDEFAULT_FORMAT_COMBINATION_LIMIT = 100;
  InterfaceInfo getInterfaceInfo() const noexcept override { return InterfaceInfo{"PLUGIN_V3ONE_BUILD", 1, 0}; }

  //! Called at build time with the tensors' types, formats and shape ranges.
  virtual int32_t configurePlugin(const DynamicPluginTensorDesc* in, int32_t nbInputs,
                                  const DynamicPluginTensorDesc* out, int32_t nbOutputs) = 0;
  virtual int32_t getOutputDataTypes(DataType* outputTypes, int32_t nbOutputs, const DataType* inputTypes,
                                     int32_t nbInputs) const = 0;
  //! Output shapes as expressions of the input dims (and the values of the
  //! shape inputs, if any).
  virtual int32_t getOutputShapes(const DimsExprs* inputs, int32_t nbInputs, const DimsExprs* shapeInputs,
                                  int32_t nbShapeInputs, DimsExprs* outputs, int32_t nbOutputs,
                                  IExprBuilder& exprBuilder) = 0;
  //! Whether inOut[pos] may have its type and format, given inOut[0, pos).
  virtual bool supportsFormatCombination(int32_t pos, const DynamicPluginTensorDesc* inOut, int32_t nbInputs,
                                         int32_t nbOutputs) = 0;
  virtual int32_t getNbOutputs() const = 0;
  virtual std::size_t getWorkspaceSize(const DynamicPluginTensorDesc* inputs, int32_t nbInputs,
                                       const DynamicPluginTensorDesc* outputs, int32_t nbOutputs) const {
    return 0;
  }
  virtual int32_t getValidTactics(int32_t* tactics, int32_t nbTactics) { return 0; }
  virtual int32_t getNbTactics() { return 0; }
  virtual const AsciiChar* getTimingCacheID() { return nullptr; }
  virtual int32_t getFormatCombinationLimit() { return kDEFAULT_FORMAT_COMBINATION_LIMIT; }
  virtual const AsciiChar* getMetadataString() { return nullptr; }
};

class IPluginV3OneRuntime : public IPluginCapability {
 public:
  InterfaceInfo getInterfaceInfo() const noexcept override { return InterfaceInfo{"PLUGIN_V3ONE_RUNTIME", 1, 0}; }

  virtual int32_t setTactic(int32_t tactic) { return 0; }
  //! Called before enqueue whenever the shapes of the tensors change.
  virtual int32_t onShapeChange(const PluginTensorDesc* in, int32_t nbInputs, const PluginTensorDesc* out,
                                int32_t nbOutputs) = 0;
  //! Computes the outputs. On Kiln's CPU backend the pointers are host
  //! memory and `stream` is null. May run on several threads at once only
  //! on different objects (each execution context gets its own clone).
  virtual int32_t enqueue(const PluginTensorDesc* inputDesc, const PluginTensorDesc* outputDesc,
                          const void* const* inputs, void* const* outputs, void* workspace,
                          cudaStream_t stream) = 0;
  //! A clone bound to an execution context; Kiln owns (deletes) it.
  virtual IPluginV3* attachToContext(IPluginResourceContext* context) = 0;
  //! The fields a plan records; the creator must re-create the plugin from them.
  virtual const PluginFieldCollection* getFieldsToSerialize() = 0;
};

// ---------------------------------------------------------------------------
// Creators and the registry

class IPluginCreatorInterface : public IVersionedInterface {};

class IPluginCreatorV3One : public IPluginCreatorInterface {
 public:
  InterfaceInfo getInterfaceInfo() const noexcept override { return InterfaceInfo{"PLUGIN CREATOR_V3ONE", 1, 0}; }
  //! A new plugin (owned by the caller, released with delete), or nullptr.
  virtual IPluginV3* createPlugin(const AsciiChar* name, const PluginFieldCollection* fc, TensorRTPhase phase) = 0;
  //! The fields createPlugin understands (documentation; may be null).
  virtual const PluginFieldCollection* getFieldNames() = 0;
  virtual const AsciiChar* getPluginName() const = 0;
  virtual const AsciiChar* getPluginVersion() const = 0;
  virtual const AsciiChar* getPluginNamespace() const = 0;
};

//! The kind and major version a creator must report to be registered.
constexpr const AsciiChar* kPLUGIN_CREATOR_V3ONE_KIND = "PLUGIN CREATOR_V3ONE";
constexpr int32_t kPLUGIN_CREATOR_V3ONE_MAJOR = 1;

using PluginLibraryHandle = void*;

//! The process-wide set of plugin creators. Thread-safe.
class IPluginRegistry {
 public:
  //! Registers `creator` (not owned: it must outlive its registration) under
  //! its own (name, version, namespace). `pluginNamespace` may be "" or must
  //! equal the creator's namespace. False (and a logged error) for a creator
  //! of another interface kind/version, or a duplicate.
  virtual bool registerCreator(IPluginCreatorInterface& creator, const AsciiChar* pluginNamespace) noexcept = 0;
  //! Every registered creator; the array stays valid until the next
  //! registration change.
  virtual IPluginCreatorInterface* const* getAllCreators(int32_t* numCreators) const noexcept = 0;
  //! The creator of (name, version, namespace), or nullptr.
  virtual IPluginCreatorInterface* getCreator(const AsciiChar* pluginName, const AsciiChar* pluginVersion,
                                              const AsciiChar* pluginNamespace = "") noexcept = 0;
  //! Deregisters a creator registered with registerCreator (a library's
  //! creators go with deregisterLibrary). False when it is not registered.
  virtual bool deregisterCreator(const IPluginCreatorInterface& creator) noexcept = 0;
  //! Loads a plugin library (dlopen) and registers every creator its
  //! `getCreators` returns. nullptr (and a logged error) when the file can't
  //! be loaded, exports no `getCreators`, throws, or offers a creator of the
  //! wrong interface version; then nothing of the library is registered.
  virtual PluginLibraryHandle loadLibrary(const AsciiChar* pluginPath) noexcept = 0;
  //! Deregisters the library's creators and unloads it.
  virtual void deregisterLibrary(PluginLibraryHandle handle) noexcept = 0;
  //! Kiln: where the registry reports errors (default: standard error).
  virtual void setLogger(ILogger* logger) noexcept = 0;

 protected:
  virtual ~IPluginRegistry() = default;
};

//! The registry (created on first use).
IPluginRegistry* getPluginRegistry() noexcept;

//! Static registration: REGISTER_KILN_PLUGIN(MyCreator) at namespace scope in
//! the application registers one MyCreator when the program starts.
template <typename T>
class PluginRegistrar {
 public:
  PluginRegistrar() { getPluginRegistry()->registerCreator(instance_, ""); }

 private:
  T instance_{};
};

#define REGISTER_KILN_PLUGIN(name) static ::kiln::PluginRegistrar<name> pluginRegistrar##name {}

//! A plugin library exports this function (extern "C"), as TensorRT's:
//!   extern "C" kiln::IPluginCreatorInterface* const* getCreators(int32_t& nbCreators);
//! The creators must stay valid until the library is unloaded.
using PluginLibraryGetCreatorsFn = IPluginCreatorInterface* const* (*)(int32_t& nbCreators);
constexpr const AsciiChar* KILN_PLUGIN_LIBRARY_ENTRY = "getCreators";

}  // namespace kiln
