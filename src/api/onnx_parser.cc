// kiln::onnx::IParser (TensorRT's nvonnxparser::IParser) over onnx/importer.
// Errors are kept for getNbErrors/getError and logged at kERROR.
#include "kiln/onnx_parser.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "core/error.h"
#include "api/network_impl.h"
#include "builder/build_plan.h"
#include "onnx/importer.h"

namespace kiln::onnx {

namespace {

class ParserError final : public IParserError {
 public:
  explicit ParserError(ImportError e) : e_(std::move(e)) {}
  ErrorCode code() const override { return e_.code; }
  const char* desc() const override { return e_.desc.c_str(); }
  const char* file() const override { return e_.file.c_str(); }
  const char* func() const override { return e_.func.c_str(); }
  int line() const override { return e_.line; }
  int node() const override { return e_.node; }
  const char* nodeName() const override { return e_.nodeName.c_str(); }
  const char* nodeOperator() const override { return e_.nodeOperator.c_str(); }

 private:
  ImportError e_;
};

//! A model file's bytes, mapped read-only: the protobuf parser reads the page
//! cache itself, where reading into a string first copied every byte of a
//! 400 MB model once more (and, through istreambuf_iterator, a byte at a time:
//! most of BERT-base's 1.3-1.8 s parse). Files that cannot be mapped are read.
class ModelFile {
 public:
  ModelFile() = default;
  ModelFile(const ModelFile&) = delete;
  ModelFile& operator=(const ModelFile&) = delete;
  ~ModelFile() {
    if (map_) munmap(map_, size_);
  }

  //! Empty string on success, else why the file cannot be had.
  std::string open(const char* path) {
    const int fd = ::open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      std::error_code ec;
      const bool exists = std::filesystem::exists(path, ec);
      return strCat("cannot open ONNX model file \"", path, "\": ", exists ? "not readable" : "no such file");
    }
    std::string error = load(fd, path);
    ::close(fd);
    return error;
  }
  const char* data() const { return map_ ? static_cast<const char*>(map_) : bytes_.data(); }
  std::size_t size() const { return size_; }

 private:
  std::string load(int fd, const char* path) {
    struct stat st {};
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode))
      return strCat("cannot read ONNX model file \"", path, "\": not a regular file");
    size_ = static_cast<std::size_t>(st.st_size);
    if (size_ == 0) return "";  // parsed as empty, which the importer reports
    // No MADV_SEQUENTIAL: it let the kernel drop the pages as they were read, and a warm
    // BERT-base build after the parse took 0.57-1.56 s instead of 0.44-0.46 (4 runs each).
    void* p = mmap(nullptr, size_, PROT_READ, MAP_PRIVATE, fd, 0);
    if (p != MAP_FAILED) {
      map_ = p;
      return "";
    }
    bytes_.resize(size_);
    for (std::size_t done = 0; done < size_;) {
      const ssize_t got = ::read(fd, bytes_.data() + done, size_ - done);
      if (got < 0 && errno == EINTR) continue;
      if (got <= 0) return strCat("cannot read ONNX model file \"", path, "\": ", got < 0 ? std::strerror(errno) : "truncated");
      done += static_cast<std::size_t>(got);
    }
    return "";
  }

  void* map_ = nullptr;
  std::size_t size_ = 0;
  std::string bytes_;
};

//! The directory external-data paths are relative to: the model file's.
std::string dirOf(const char* modelPath) {
  if (!modelPath || !*modelPath) return "";
  return std::filesystem::path(modelPath).parent_path().string();
}

class Parser final : public IParser {
 public:
  Parser(INetworkDefinition& network, ILogger& logger) : network_(network), logger_(logger) {}

  bool parse(const void* data, std::size_t size, const char* modelPath) noexcept override {
    return guard([&] {
      return record(importModel(data, size, dirOf(modelPath), api::graphOf(network_), builder::evaluateOnHost));
    });
  }

  bool parseFromFile(const char* onnxModelFile, int verbosity) noexcept override {
    return guard([&] {
      ModelFile file;
      if (!openFile(onnxModelFile, file)) return false;
      if (verbosity >= static_cast<int>(ILogger::Severity::kINFO))
        logger_.log(ILogger::Severity::kINFO,
                    strCat("ONNX parser: reading \"", onnxModelFile, "\" (", file.size(), " bytes)").c_str());
      bool ok = record(importModel(file.data(), file.size(), dirOf(onnxModelFile), api::graphOf(network_),
                                   builder::evaluateOnHost));
      if (ok && verbosity >= static_cast<int>(ILogger::Severity::kINFO)) {
        ir::Graph& g = api::graphOf(network_);
        logger_.log(ILogger::Severity::kINFO, strCat("ONNX parser: imported \"", onnxModelFile, "\": ",
                                                     g.nodes().size(), " nodes, ", g.inputs.size(),
                                                     " inputs, ", g.outputs.size(), " outputs")
                                                  .c_str());
      }
      return ok;
    });
  }

  bool supportsModel(const void* data, std::size_t size, const char* modelPath) noexcept override {
    return guard([&] { return record(checkModelSupport(data, size, dirOf(modelPath), builder::evaluateOnHost)); });
  }

  bool supportsModel(const void* data, std::size_t size, SubGraphCollection_t& collection,
                     const char* modelPath) noexcept override {
    collection.clear();
    bool ok = supportsModelV2(data, size, modelPath);
    for (const SubgraphSupport& s : subgraphs_)
      collection.emplace_back(std::vector<std::size_t>(s.nodes.begin(), s.nodes.end()), s.supported);
    return ok;
  }

  bool supportsModelV2(const void* data, std::size_t size, const char* modelPath) noexcept override {
    return guard([&] {
      subgraphs_.clear();
      ModelSupport s = analyzeModelSupport(data, size, dirOf(modelPath), builder::evaluateOnHost);
      subgraphs_ = std::move(s.subgraphs);
      return record(s.result);
    });
  }

  int64_t getNbSubgraphs() noexcept override { return static_cast<int64_t>(subgraphs_.size()); }

  bool isSubgraphSupported(int64_t const index) noexcept override {
    const SubgraphSupport* s = subgraph(index, "isSubgraphSupported");
    return s && s->supported;
  }

  int64_t* getSubgraphNodes(int64_t const index, int64_t& subgraphLength) noexcept override {
    subgraphLength = 0;
    SubgraphSupport* s = subgraph(index, "getSubgraphNodes");
    if (!s) return nullptr;
    subgraphLength = static_cast<int64_t>(s->nodes.size());
    return s->nodes.data();
  }

  bool supportsOperator(const char* opName) const noexcept override {
    try {
      return opName && isOperatorSupported(opName);
    } catch (...) {
      return false;
    }
  }

  int getNbErrors() const noexcept override { return static_cast<int>(errors_.size()); }
  const IParserError* getError(int index) const noexcept override {
    return index >= 0 && index < getNbErrors() ? &errors_[index] : nullptr;
  }
  void clearErrors() noexcept override { errors_.clear(); }

 private:
  //! Keeps the errors of `r` and logs each; returns r.ok.
  bool record(const ImportResult& r) {
    for (const ImportError& e : r.errors) {
      logger_.log(ILogger::Severity::kERROR, strCat("ONNX parser: ", e.desc).c_str());
      errors_.emplace_back(e);
    }
    return r.ok;
  }

  //! Subgraph `index` of the last supportsModelV2, or nullptr with an error recorded.
  SubgraphSupport* subgraph(int64_t index, const char* func) noexcept {
    if (index >= 0 && index < getNbSubgraphs()) return &subgraphs_[static_cast<std::size_t>(index)];
    guard([&] {
      ImportError e;
      e.code = ErrorCode::kINVALID_VALUE;
      e.file = __FILE__;
      e.func = func;
      e.line = __LINE__;
      e.desc = strCat(func, ": subgraph index ", index, " is out of range: the last supportsModelV2 found ",
                      subgraphs_.size(), " subgraphs");
      return record({false, {e}});
    });
    return nullptr;
  }

  bool openFile(const char* path, ModelFile& file) {
    ImportError e;
    e.code = ErrorCode::kINVALID_VALUE;
    e.file = __FILE__;
    e.func = __func__;
    e.line = __LINE__;
    e.desc = !path || !*path ? "parseFromFile: no file name given" : file.open(path);
    if (e.desc.empty()) return true;
    record({false, {e}});
    return false;
  }

  //! Public entry points never throw (out of memory while copying errors, say).
  template <typename Fn>
  bool guard(Fn&& fn) noexcept {
    try {
      return fn();
    } catch (const std::exception& ex) {
      logger_.log(ILogger::Severity::kINTERNAL_ERROR, strCat("ONNX parser: ", ex.what()).c_str());
    } catch (...) {
      logger_.log(ILogger::Severity::kINTERNAL_ERROR, "ONNX parser: unknown internal error");
    }
    return false;
  }

  INetworkDefinition& network_;
  ILogger& logger_;
  std::vector<ParserError> errors_;
  std::vector<SubgraphSupport> subgraphs_;  //!< what the last supportsModelV2 found
};

}  // namespace

IParser* createParser(INetworkDefinition& network, ILogger& logger) noexcept {
  try {
    return new Parser(network, logger);
  } catch (...) {
    return nullptr;
  }
}

}  // namespace kiln::onnx
