// Schema of TfIdfVectorizer (opset 9): int32/int64 token ids [C] or [N, C]
// -> float32 n-gram scores [O] or [N, O], O = max(ngram_indexes) + 1.
// String tokens (pool_strings) need string tensors, which Kiln does not have.
#include <algorithm>
#include <string>

#include "ir/ops/families.h"
#include "ir/ops/tfidf.h"

namespace kiln::ir {

TfIdfSpec parseTfIdf(const Node& node) {
  auto check = [&](bool cond, const auto&... args) {
    if (!cond) fail(node.describe(), ": ", args...);
  };
  TfIdfSpec spec;
  std::string mode = node.s("mode", "");
  if (mode == "TF") spec.mode = TfIdfSpec::Mode::kTF;
  else if (mode == "IDF") spec.mode = TfIdfSpec::Mode::kIDF;
  else if (mode == "TFIDF") spec.mode = TfIdfSpec::Mode::kTFIDF;
  else check(false, "attribute 'mode' must be TF, IDF or TFIDF, got '", mode, "'");
  spec.minGram = node.i("min_gram_length", 0);
  spec.maxGram = node.i("max_gram_length", 0);
  spec.maxSkip = node.i("max_skip_count", -1);
  check(spec.minGram >= 1, "attribute 'min_gram_length' must be >= 1, got ", spec.minGram);
  check(spec.maxGram >= spec.minGram, "attribute 'max_gram_length' (", spec.maxGram,
        ") must be >= min_gram_length (", spec.minGram, ")");
  check(spec.maxSkip >= 0, "attribute 'max_skip_count' must be >= 0, got ", spec.maxSkip);
  check(!node.attrs.count("pool_strings"),
        "attribute 'pool_strings' (string tokens) is not supported: Kiln has no string tensors; use pool_int64s");
  check(node.attrs.count("pool_int64s") != 0, "attribute 'pool_int64s' is required");
  const std::vector<int64_t> pool = node.ints("pool_int64s");
  const std::vector<int64_t> counts = node.ints("ngram_counts");
  const std::vector<int64_t> indexes = node.ints("ngram_indexes");
  const auto poolSize = static_cast<int64_t>(pool.size());
  check(!counts.empty(), "attribute 'ngram_counts' is required (the pool offset of each n-gram length)");
  for (std::size_t k = 0; k < counts.size(); ++k) {
    const int64_t begin = counts[k], end = k + 1 < counts.size() ? counts[k + 1] : poolSize;
    const auto n = static_cast<int64_t>(k + 1);
    check(begin >= 0 && begin <= end && end <= poolSize, "ngram_counts[", k, "] = ", begin,
          " is not a non-decreasing offset into the pool of ", poolSize, " values");
    check((end - begin) % n == 0, "the pool's ", n, "-grams span ", end - begin, " values, not a multiple of ", n);
    for (int64_t at = begin; at < end; at += n) spec.grams.emplace_back(pool.begin() + at, pool.begin() + at + n);
  }
  check(indexes.size() == spec.grams.size(), "attribute 'ngram_indexes' has ", indexes.size(),
        " values but the pool holds ", spec.grams.size(), " n-grams");
  for (int64_t ix : indexes) check(ix >= 0, "ngram_indexes holds a negative index ", ix);
  spec.gramOutput = indexes;
  spec.outputSize = indexes.empty() ? 0 : *std::max_element(indexes.begin(), indexes.end()) + 1;
  spec.weights = node.floats("weights");
  if (!spec.weights.empty()) {
    check(spec.weights.size() == indexes.size(), "attribute 'weights' has ", spec.weights.size(),
          " values, ngram_indexes ", indexes.size());
    check(static_cast<int64_t>(spec.weights.size()) >= spec.outputSize, "attribute 'weights' has ",
          spec.weights.size(), " values, fewer than the ", spec.outputSize,
          " output positions it is indexed by (ngram_indexes leaves gaps)");
  }
  return spec;
}

namespace {

void inferTfIdfVectorizer(InferContext& ctx) {
  const Value& x = ctx.in(0);
  ctx.check(x.dtype == DType::kINT32 || x.dtype == DType::kINT64, "needs int32 or int64 token ids, got ",
            dataTypeName(x.dtype));
  ctx.check(x.shape.size() == 1 || x.shape.size() == 2, "input must be [C] or [N, C], got ", toString(x.shape));
  const TfIdfSpec spec = parseTfIdf(ctx.node());
  Shape out;
  if (x.shape.size() == 2) out.push_back(x.shape[0]);
  out.emplace_back(spec.outputSize);
  ctx.setOutput(0, DType::kFLOAT, std::move(out));
}

}  // namespace

void registerTextSchemas(SchemaRegistry& r) { r.add({"TfIdfVectorizer", 1, 1, 1, 1, inferTfIdfVectorizer}); }

}  // namespace kiln::ir
