// Kiln public API: the ONNX parser (TensorRT's nvonnxparser::IParser).
#pragma once
#include <cstddef>
#include <utility>
#include <vector>
#include <cstdint>

#include "kiln/network.h"
#include "kiln/types.h"

namespace kiln::onnx {

enum class ErrorCode : int32_t {
  kSUCCESS = 0,
  kINTERNAL_ERROR = 1,
  kMEM_ALLOC_FAILED = 2,
  kMODEL_DESERIALIZE_FAILED = 3,
  kINVALID_VALUE = 4,
  kINVALID_GRAPH = 5,
  kINVALID_NODE = 6,
  kUNSUPPORTED_GRAPH = 7,
  kUNSUPPORTED_NODE = 8,
  kUNSUPPORTED_NODE_ATTR = 9,
  kUNSUPPORTED_NODE_INPUT = 10,
  kUNSUPPORTED_NODE_DATATYPE = 11,
  kUNSUPPORTED_NODE_DYNAMIC = 12,
  kUNSUPPORTED_NODE_SHAPE = 13,
  kREFIT_FAILED = 14,
};

class IParserError {
 public:
  virtual ErrorCode code() const = 0;
  virtual const char* desc() const = 0;
  virtual const char* file() const = 0;
  virtual const char* func() const = 0;
  virtual int line() const = 0;
  //! Index of the failing node in the graph, -1 when not about one node.
  virtual int node() const = 0;
  virtual const char* nodeName() const = 0;
  virtual const char* nodeOperator() const = 0;

 protected:
  virtual ~IParserError() = default;
};

//! TensorRT's deprecated subgraph list: each run of node indices and whether Kiln supports it.
using SubGraph_t = std::pair<std::vector<std::size_t>, bool>;
using SubGraphCollection_t = std::vector<SubGraph_t>;

class IParser {
 public:
  virtual ~IParser() = default;
  //! Parses a serialized ModelProto. `modelPath` locates external-data files (may be null).
  virtual bool parse(const void* serializedOnnxModel, std::size_t serializedOnnxModelSize,
                     const char* modelPath = nullptr) noexcept = 0;
  virtual bool parseFromFile(const char* onnxModelFile, int verbosity) noexcept = 0;
  //! True when every node of the model imports (the network is not changed).
  //! TensorRT's deprecated form; supportsModelV2 also says which nodes do.
  virtual bool supportsModel(const void* serializedOnnxModel, std::size_t serializedOnnxModelSize,
                             const char* modelPath = nullptr) noexcept = 0;
  //! TensorRT's deprecated form with the subgraphs: `subGraphCollection` gets
  //! supportsModelV2's runs (node indices, supported) in topological order.
  virtual bool supportsModel(const void* serializedOnnxModel, std::size_t serializedOnnxModelSize,
                             SubGraphCollection_t& subGraphCollection, const char* modelPath = nullptr) noexcept = 0;
  //! True when every node of the model imports (the network is not changed).
  //! Afterwards getNbSubgraphs/isSubgraphSupported/getSubgraphNodes describe
  //! the graph's nodes, in a topological order, cut into maximal runs that
  //! Kiln supports or does not; every unsupported node is recorded as an
  //! error (getError: node index, name, op, reason). A node that reads the
  //! output of an unsupported one is judged by its op alone. Malformed bytes:
  //! false, an error, and no subgraphs.
  virtual bool supportsModelV2(const void* serializedOnnxModel, std::size_t serializedOnnxModelSize,
                               const char* modelPath = nullptr) noexcept = 0;
  //! The number of subgraphs the last supportsModelV2 found (0 before one).
  virtual int64_t getNbSubgraphs() noexcept = 0;
  //! Whether subgraph `index` is supported; false (and an error recorded) for an index out of range.
  virtual bool isSubgraphSupported(int64_t const index) noexcept = 0;
  //! The node indices of subgraph `index` (the parser owns the array, valid
  //! until the next supportsModelV2); nullptr and length 0 for an index out of range.
  virtual int64_t* getSubgraphNodes(int64_t const index, int64_t& subgraphLength) noexcept = 0;
  virtual bool supportsOperator(const char* opName) const noexcept = 0;
  virtual int getNbErrors() const noexcept = 0;
  virtual const IParserError* getError(int index) const noexcept = 0;
  virtual void clearErrors() noexcept = 0;
};

//! Creates a parser that fills `network`; both `network` and `logger` must outlive it.
IParser* createParser(INetworkDefinition& network, ILogger& logger) noexcept;

}  // namespace kiln::onnx
