// Kiln public API: the network definition (tensors and layers), as TensorRT's
// INetworkDefinition. A network is filled by the ONNX parser or by hand.
#pragma once
#include <cstdint>

#include "kiln/types.h"

namespace kiln {

class IPluginV3;  // kiln/plugin.h

class ITensor {
 public:
  virtual void setName(const char* name) noexcept = 0;
  virtual const char* getName() const noexcept = 0;
  //! Shape as currently inferred; -1 for a dimension not known at build time.
  virtual Dims getDimensions() const noexcept = 0;
  virtual void setDimensions(Dims dims) noexcept = 0;
  virtual DataType getType() const noexcept = 0;
  virtual void setType(DataType type) noexcept = 0;
  virtual bool isNetworkInput() const noexcept = 0;
  virtual bool isNetworkOutput() const noexcept = 0;

 protected:
  virtual ~ITensor() = default;
};

enum class LayerType : int32_t {
  kCONVOLUTION = 0,
  kACTIVATION = 2,
  kPOOLING = 3,
  kSCALE = 5,
  kSOFTMAX = 6,
  kDECONVOLUTION = 7,
  kCONCATENATION = 8,
  kELEMENTWISE = 9,
  kPLUGIN = 10,
  kUNARY = 11,
  kPADDING = 12,
  kSHUFFLE = 13,
  kREDUCE = 14,
  kTOPK = 15,
  kGATHER = 16,
  kMATRIX_MULTIPLY = 17,
  kCONSTANT = 19,
  kIDENTITY = 21,
  kSLICE = 22,
  kSHAPE = 23,
  kRESIZE = 26,
  kSELECT = 35,
  kFILL = 36,
  kNORMALIZATION = 44,
  kCAST = 45,
  kPLUGIN_V3 = 46,
  kONNX_NODE = 1000,  //!< Kiln: an ONNX op imported as is (no dedicated layer class)
};

class ILayer {
 public:
  virtual LayerType getType() const noexcept = 0;
  virtual void setName(const char* name) noexcept = 0;
  virtual const char* getName() const noexcept = 0;
  virtual int32_t getNbInputs() const noexcept = 0;
  virtual ITensor* getInput(int32_t index) const noexcept = 0;
  virtual int32_t getNbOutputs() const noexcept = 0;
  virtual ITensor* getOutput(int32_t index) const noexcept = 0;
  //! The op this layer is in Kiln's IR ("Conv", "Relu", ...; ONNX op names).
  virtual const char* getOpType() const noexcept = 0;

  //! Precision constraints (TensorRT's): the type the layer computes in, and
  //! the types its outputs are delivered in. Honored by CUDA builds with
  //! BuilderFlag::kOBEY_PRECISION_CONSTRAINTS (a constraint no kernel meets
  //! fails the build, naming the layer) or kPREFER_PRECISION_CONSTRAINTS (a
  //! warning instead); ignored otherwise and by the CPU backend (FP32).
  //! kFLOAT, kHALF and kBF16 are what the CUDA backend runs. A constraint
  //! set on a layer that the optimizer fuses into another is dropped with it.
  virtual void setPrecision(DataType dataType) noexcept = 0;
  virtual DataType getPrecision() const noexcept = 0;  //!< kFLOAT when unset
  virtual bool precisionIsSet() const noexcept = 0;
  virtual void resetPrecision() noexcept = 0;
  virtual void setOutputType(int32_t index, DataType dataType) noexcept = 0;
  virtual DataType getOutputType(int32_t index) const noexcept = 0;  //!< the output's type when unset
  virtual bool outputTypeIsSet(int32_t index) const noexcept = 0;
  virtual void resetOutputType(int32_t index) noexcept = 0;

 protected:
  virtual ~ILayer() = default;
};

enum class ActivationType : int32_t {
  kRELU = 0,
  kSIGMOID = 1,
  kTANH = 2,
  kLEAKY_RELU = 3,
  kELU = 4,
  kSELU = 5,
  kSOFTSIGN = 6,
  kSOFTPLUS = 7,
  kCLIP = 8,
  kHARD_SIGMOID = 9,
  kSCALED_TANH = 10,
  kTHRESHOLDED_RELU = 11,
  kGELU_ERF = 12,
  kGELU_TANH = 13,
};

class IActivationLayer : public ILayer {
 public:
  virtual void setActivationType(ActivationType type) noexcept = 0;
  virtual ActivationType getActivationType() const noexcept = 0;
  //! alpha: LeakyRelu slope, Clip min, HardSigmoid alpha. beta: Clip max, HardSigmoid beta.
  virtual void setAlpha(float alpha) noexcept = 0;
  virtual void setBeta(float beta) noexcept = 0;
  virtual float getAlpha() const noexcept = 0;
  virtual float getBeta() const noexcept = 0;
};

enum class PaddingMode : int32_t {
  kEXPLICIT_ROUND_DOWN = 0,
  kEXPLICIT_ROUND_UP = 1,
  kSAME_UPPER = 2,
  kSAME_LOWER = 3,
};

class IConvolutionLayer : public ILayer {
 public:
  virtual void setStrideNd(Dims stride) noexcept = 0;
  virtual Dims getStrideNd() const noexcept = 0;
  virtual void setPaddingNd(Dims padding) noexcept = 0;  //!< symmetric
  virtual void setPrePadding(Dims padding) noexcept = 0;
  virtual void setPostPadding(Dims padding) noexcept = 0;
  virtual Dims getPrePadding() const noexcept = 0;
  virtual Dims getPostPadding() const noexcept = 0;
  virtual void setPaddingMode(PaddingMode mode) noexcept = 0;
  virtual void setDilationNd(Dims dilation) noexcept = 0;
  virtual Dims getDilationNd() const noexcept = 0;
  virtual void setNbGroups(int64_t groups) noexcept = 0;
  virtual int64_t getNbGroups() const noexcept = 0;
  virtual int64_t getNbOutputMaps() const noexcept = 0;
  virtual Dims getKernelSizeNd() const noexcept = 0;
};

enum class PoolingType : int32_t { kMAX = 0, kAVERAGE = 1 };

class IPoolingLayer : public ILayer {
 public:
  virtual void setStrideNd(Dims stride) noexcept = 0;
  virtual Dims getStrideNd() const noexcept = 0;
  virtual void setPaddingNd(Dims padding) noexcept = 0;
  virtual void setPrePadding(Dims padding) noexcept = 0;
  virtual void setPostPadding(Dims padding) noexcept = 0;
  virtual void setPaddingMode(PaddingMode mode) noexcept = 0;
  //! Whether padded elements count in an average (TensorRT's default: true).
  virtual void setAverageCountExcludesPadding(bool exclusive) noexcept = 0;
  virtual PoolingType getPoolingType() const noexcept = 0;
};

enum class ElementWiseOperation : int32_t {
  kSUM = 0,
  kPROD = 1,
  kMAX = 2,
  kMIN = 3,
  kSUB = 4,
  kDIV = 5,
  kPOW = 6,
  kFLOOR_DIV = 7,
  kAND = 8,
  kOR = 9,
  kXOR = 10,
  kEQUAL = 11,
  kGREATER = 12,
  kLESS = 13,
};

class IElementWiseLayer : public ILayer {
 public:
  virtual ElementWiseOperation getOperation() const noexcept = 0;
};

enum class UnaryOperation : int32_t {
  kEXP = 0,
  kLOG = 1,
  kSQRT = 2,
  kRECIP = 3,
  kABS = 4,
  kNEG = 5,
  kSIN = 6,
  kCOS = 7,
  kTAN = 8,
  kSINH = 9,
  kCOSH = 10,
  kASIN = 11,
  kACOS = 12,
  kATAN = 13,
  kASINH = 14,
  kACOSH = 15,
  kATANH = 16,
  kCEIL = 17,
  kFLOOR = 18,
  kERF = 19,
  kNOT = 20,
  kSIGN = 21,
  kROUND = 22,
};

class IUnaryLayer : public ILayer {
 public:
  virtual UnaryOperation getOperation() const noexcept = 0;
};

enum class MatrixOperation : int32_t { kNONE = 0, kTRANSPOSE = 1, kVECTOR = 2 };

class IMatrixMultiplyLayer : public ILayer {};

//! Shuffle = first transpose, then reshape, then second transpose.
struct Permutation {
  int32_t order[Dims::MAX_DIMS];
};

class IShuffleLayer : public ILayer {
 public:
  virtual void setFirstTranspose(Permutation permutation) noexcept = 0;
  //! 0 in reshape dims copies the input dimension (TensorRT's default), -1 is inferred.
  virtual void setReshapeDimensions(Dims dimensions) noexcept = 0;
  virtual void setSecondTranspose(Permutation permutation) noexcept = 0;
  virtual void setZeroIsPlaceholder(bool zeroIsPlaceholder) noexcept = 0;
};

class IConcatenationLayer : public ILayer {
 public:
  virtual void setAxis(int32_t axis) noexcept = 0;
  virtual int32_t getAxis() const noexcept = 0;
};

class ISoftMaxLayer : public ILayer {
 public:
  //! Bit mask of the reduced axis (TensorRT semantics); exactly one bit.
  virtual void setAxes(uint32_t axes) noexcept = 0;
  virtual uint32_t getAxes() const noexcept = 0;
};

enum class ReduceOperation : int32_t { kSUM = 0, kPROD = 1, kMAX = 2, kMIN = 3, kAVG = 4 };

class IReduceLayer : public ILayer {
 public:
  virtual ReduceOperation getOperation() const noexcept = 0;
  virtual uint32_t getReduceAxes() const noexcept = 0;
  virtual bool getKeepDimensions() const noexcept = 0;
};

class IConstantLayer : public ILayer {};

//! A layer computed by a plugin (kiln/plugin.h).
class IPluginV3Layer : public ILayer {
 public:
  //! The network's own clone of the plugin given to addPluginV3.
  virtual IPluginV3& getPlugin() noexcept = 0;
};

class INetworkDefinition {
 public:
  virtual ~INetworkDefinition() = default;

  virtual ITensor* addInput(const char* name, DataType type, Dims dimensions) noexcept = 0;
  virtual void markOutput(ITensor& tensor) noexcept = 0;
  virtual void unmarkOutput(ITensor& tensor) noexcept = 0;

  //! kernelWeights: [K, C/groups, kh, kw]; biasWeights may be empty (count 0).
  virtual IConvolutionLayer* addConvolutionNd(ITensor& input, int64_t nbOutputMaps, Dims kernelSize,
                                              Weights kernelWeights, Weights biasWeights) noexcept = 0;
  virtual IActivationLayer* addActivation(ITensor& input, ActivationType type) noexcept = 0;
  virtual IPoolingLayer* addPoolingNd(ITensor& input, PoolingType type, Dims windowSize) noexcept = 0;
  virtual IElementWiseLayer* addElementWise(ITensor& input1, ITensor& input2,
                                            ElementWiseOperation op) noexcept = 0;
  virtual IUnaryLayer* addUnary(ITensor& input, UnaryOperation operation) noexcept = 0;
  virtual IMatrixMultiplyLayer* addMatrixMultiply(ITensor& input0, MatrixOperation op0, ITensor& input1,
                                                  MatrixOperation op1) noexcept = 0;
  virtual IShuffleLayer* addShuffle(ITensor& input) noexcept = 0;
  virtual IConcatenationLayer* addConcatenation(ITensor* const* inputs, int32_t nbInputs) noexcept = 0;
  virtual ISoftMaxLayer* addSoftMax(ITensor& input) noexcept = 0;
  virtual IReduceLayer* addReduce(ITensor& input, ReduceOperation operation, uint32_t reduceAxes,
                                  bool keepDimensions) noexcept = 0;
  virtual IConstantLayer* addConstant(Dims dimensions, Weights weights) noexcept = 0;
  //! A layer computed by `plugin`, which is cloned (the caller keeps its
  //! object). shapeInputs are int32/int64 tensors whose values (not dims)
  //! getOutputShapes sees; enqueue does not get them. The plugin's creator
  //! must be registered: Kiln re-creates the plugin from its
  //! getFieldsToSerialize() fields when building and loading (see plugin.h).
  virtual IPluginV3Layer* addPluginV3(ITensor* const* inputs, int32_t nbInputs, ITensor* const* shapeInputs,
                                      int32_t nbShapeInputs, IPluginV3& plugin) noexcept = 0;

  virtual int32_t getNbLayers() const noexcept = 0;
  virtual ILayer* getLayer(int32_t index) const noexcept = 0;
  virtual int32_t getNbInputs() const noexcept = 0;
  virtual ITensor* getInput(int32_t index) const noexcept = 0;
  virtual int32_t getNbOutputs() const noexcept = 0;
  virtual ITensor* getOutput(int32_t index) const noexcept = 0;
  virtual void setName(const char* name) noexcept = 0;
  virtual const char* getName() const noexcept = 0;
};

enum class NetworkDefinitionCreationFlag : int32_t {
  //! Accepted for compatibility; Kiln networks are always explicit batch.
  kEXPLICIT_BATCH = 0,
  kSTRONGLY_TYPED = 1,
};
using NetworkDefinitionCreationFlags = uint32_t;

}  // namespace kiln
