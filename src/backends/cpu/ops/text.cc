// Reference kernel of TfIdfVectorizer. The pool's n-grams (those of a length
// in [min_gram_length, max_gram_length]) form a trie built once from the
// attributes; each row is scanned as ONNX Runtime does: for every skip
// distance d = 1 .. max_skip_count + 1 and every start, walk the trie over
// x[s], x[s + d], x[s + 2d], ... and count each pooled n-gram met on the way.
// Unigrams do not depend on d, so they are counted in the first pass only.
// Counts accumulate in the float output (exact below 2^24), then the mode
// turns them into TF / IDF / TF-IDF scores; no allocation per run.
#include <string>
#include <unordered_map>
#include <vector>

#include "backends/cpu/ops/families.h"
#include "backends/cpu/ops/tensor_copy.h"
#include "ir/ops/tfidf.h"

namespace kiln::cpu {
namespace {

class TfIdfVectorizerKernel : public Kernel {
 public:
  explicit TfIdfVectorizerKernel(const ir::Node& node) : spec_(ir::parseTfIdf(node)), who_(node.describe()) {
    trie_.emplace_back();
    for (std::size_t g = 0; g < spec_.grams.size(); ++g) {
      const auto& gram = spec_.grams[g];
      const auto n = static_cast<int64_t>(gram.size());
      if (n < spec_.minGram || n > spec_.maxGram) continue;
      int32_t at = 0;
      for (int64_t token : gram) {
        auto it = trie_[at].next.find(token);
        if (it == trie_[at].next.end()) {
          const auto child = static_cast<int32_t>(trie_.size());
          trie_[at].next.emplace(token, child);
          trie_.emplace_back();
          at = child;
        } else {
          at = it->second;
        }
      }
      trie_[at].output = spec_.gramOutput[g];  // a repeated n-gram: the last one wins (as ONNX Runtime)
    }
  }

  void run(const ExecContext& ctx, const TensorView* in, const TensorView* out) const override {
    const TensorView &x = in[0], &y = out[0];
    const int64_t rows = x.rank == 2 ? x.dims[0] : 1, cols = x.dims[x.rank - 1];
    const int64_t width = spec_.outputSize;
    KILN_CHECK(y.dims[y.rank - 1] == width, who_, ": the output rows hold ", y.dims[y.rank - 1], " values, not ",
               width);
    float* dst = y.as<float>();
    ctx.pool->parallelFor(rows, [&](int64_t r0, int64_t r1) {
      for (int64_t r = r0; r < r1; ++r) {
        float* row = dst + r * width;
        for (int64_t k = 0; k < width; ++k) row[k] = 0;
        if (x.dtype == DType::kINT32) countRow(x.as<const int32_t>() + r * cols, cols, row);
        else countRow(x.as<const int64_t>() + r * cols, cols, row);
        score(row);
      }
    });
  }

 private:
  struct TrieNode {
    std::unordered_map<int64_t, int32_t> next;
    int64_t output = -1;  //!< the output position of the n-gram ending here, -1: only a prefix
  };

  template <typename T>
  void countRow(const T* tokens, int64_t cols, float* counts) const {
    int64_t startSize = spec_.minGram;
    for (int64_t d = 1; d <= spec_.maxSkip + 1; ++d) {
      for (int64_t s = 0; s < cols; ++s) {
        if (s + d * (startSize - 1) >= cols) break;  // no n-gram of a counted length fits any more
        int32_t at = 0;
        int64_t item = s;
        for (int64_t size = 1; size <= spec_.maxGram && item < cols; ++size, item += d) {
          auto it = trie_[at].next.find(static_cast<int64_t>(tokens[item]));
          if (it == trie_[at].next.end()) break;
          at = it->second;
          if (size >= startSize && trie_[at].output >= 0) counts[trie_[at].output] += 1;
        }
      }
      if (startSize == 1) {  // unigrams are counted once, in the first pass
        startSize = 2;
        if (startSize > spec_.maxGram) break;
      }
    }
  }

  void score(float* row) const {
    const int64_t width = spec_.outputSize;
    const bool weighted = !spec_.weights.empty();
    switch (spec_.mode) {
      case ir::TfIdfSpec::Mode::kTF: break;
      case ir::TfIdfSpec::Mode::kIDF:
        for (int64_t k = 0; k < width; ++k) row[k] = row[k] > 0 ? (weighted ? spec_.weights[k] : 1.0f) : 0.0f;
        break;
      case ir::TfIdfSpec::Mode::kTFIDF:
        if (weighted)
          for (int64_t k = 0; k < width; ++k) row[k] *= spec_.weights[k];
        break;
    }
  }

  ir::TfIdfSpec spec_;
  std::string who_;
  std::vector<TrieNode> trie_;
};

bool supportsTfIdf(const ir::Node& node) {
  DType t = node.inputs[0]->dtype;
  return (t == DType::kINT32 || t == DType::kINT64) && node.outputs[0]->dtype == DType::kFLOAT;
}

}  // namespace

void registerTextKernels(TacticRegistry& r) {
  r.add(refTactic<TfIdfVectorizerKernel>("TfIdfVectorizer", supportsTfIdf));
}

}  // namespace kiln::cpu
