// Kiln public API: basic types shared by every part of the API.
// Names and numbering follow TensorRT 10 (nvinfer1) so that programs port by
// changing the include and the namespace.
#pragma once
#include <cstddef>
#include <cstdint>

namespace kiln {

//! Element types. Numbering matches nvinfer1::DataType for TensorRT's own
//! types (kFP8 is float8 e4m3fn, as in TensorRT). Values from 32 on are Kiln's
//! additions for ONNX types TensorRT lacks; TensorRT's later types may still
//! take 9..31.
enum class DataType : int32_t {
  kFLOAT = 0,
  kHALF = 1,
  kINT8 = 2,
  kINT32 = 3,
  kBOOL = 4,
  kUINT8 = 5,
  kFP8 = 6,
  kBF16 = 7,
  kINT64 = 8,
  // Kiln additions (no TensorRT equivalent).
  kDOUBLE = 32,        //!< float64
  kINT16 = 33,
  kUINT16 = 34,
  kUINT32 = 35,
  kUINT64 = 36,
  kFP8E5M2 = 37,       //!< float8 e5m2 (with inf and NaN)
  kFP8E4M3FNUZ = 38,   //!< float8 e4m3, no inf, no negative zero (NaN is 0x80)
  kFP8E5M2FNUZ = 39,   //!< float8 e5m2, no inf, no negative zero (NaN is 0x80)
};

//! Size in bytes of one element of `t`.
int32_t dataTypeSize(DataType t) noexcept;
//! Lower-case name of `t` ("float32", "int64", ...).
const char* dataTypeName(DataType t) noexcept;

//! Dimensions of a tensor. -1 marks a dynamic dimension.
class Dims64 {
 public:
  static constexpr int32_t MAX_DIMS = 8;
  int32_t nbDims = 0;
  int64_t d[MAX_DIMS] = {};
};
using Dims = Dims64;

class Dims2 : public Dims {
 public:
  Dims2(int64_t a, int64_t b) { nbDims = 2; d[0] = a; d[1] = b; }
};
class DimsHW : public Dims2 {
 public:
  DimsHW(int64_t h, int64_t w) : Dims2(h, w) {}
};
class Dims3 : public Dims {
 public:
  Dims3(int64_t a, int64_t b, int64_t c) { nbDims = 3; d[0] = a; d[1] = b; d[2] = c; }
};
class Dims4 : public Dims {
 public:
  Dims4(int64_t a, int64_t b, int64_t c, int64_t e) {
    nbDims = 4; d[0] = a; d[1] = b; d[2] = c; d[3] = e;
  }
};

//! Weights handed to the layer API. Kiln copies them when the layer is added,
//! so `values` only has to outlive the add* call (TensorRT requires it to
//! outlive the build; Kiln is more forgiving).
struct Weights {
  DataType type = DataType::kFLOAT;
  const void* values = nullptr;
  int64_t count = 0;
};

enum class TensorIOMode : int32_t { kNONE = 0, kINPUT = 1, kOUTPUT = 2 };
enum class TensorLocation : int32_t { kDEVICE = 0, kHOST = 1 };
enum class TensorFormat : int32_t { kLINEAR = 0 };

//! Logger interface; the application implements it.
class ILogger {
 public:
  enum class Severity : int32_t {
    kINTERNAL_ERROR = 0,
    kERROR = 1,
    kWARNING = 2,
    kINFO = 3,
    kVERBOSE = 4,
  };
  virtual void log(Severity severity, const char* msg) noexcept = 0;
  virtual ~ILogger() = default;
};

//! Error codes (a subset of nvinfer1::ErrorCode, same numbering).
enum class ErrorCode : int32_t {
  kSUCCESS = 0,
  kUNSPECIFIED_ERROR = 1,
  kINTERNAL_ERROR = 2,
  kINVALID_ARGUMENT = 3,
  kINVALID_CONFIG = 4,
  kFAILED_ALLOCATION = 5,
  kFAILED_INITIALIZATION = 6,
  kFAILED_EXECUTION = 7,
  kFAILED_COMPUTATION = 8,
  kINVALID_STATE = 9,
  kUNSUPPORTED_STATE = 10,
};

//! A block of memory owned by Kiln (a serialized plan, a timing cache).
class IHostMemory {
 public:
  virtual ~IHostMemory() = default;
  virtual void* data() const noexcept = 0;
  virtual std::size_t size() const noexcept = 0;
  virtual DataType type() const noexcept = 0;
};

//! Version of the library, as TensorRT's getInferLibVersion (MMmmpp).
int32_t getInferLibVersion() noexcept;

}  // namespace kiln
