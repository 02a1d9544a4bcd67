// TfIdfVectorizer's attributes, checked and unpacked once for the schema
// (output size) and the CPU kernel (the n-gram pool it matches against).
#pragma once
#include <cstdint>
#include <vector>

#include "ir/graph.h"

namespace kiln::ir {

struct TfIdfSpec {
  enum class Mode { kTF, kIDF, kTFIDF };
  Mode mode = Mode::kTF;
  int64_t minGram = 1, maxGram = 1, maxSkip = 0;
  //! Every n-gram of the pool in pool order (unigrams first, then bigrams, ...),
  //! with the output position ngram_indexes gives it.
  std::vector<std::vector<int64_t>> grams;
  std::vector<int64_t> gramOutput;
  //! Per output position (as ONNX Runtime and ONNX's reference index them); empty: all ones.
  std::vector<float> weights;
  //! max(ngram_indexes) + 1: the length of each output row.
  int64_t outputSize = 0;
};

//! Checks `node`'s attributes and unpacks them; throws kiln::Error naming the
//! node and the attribute on anything malformed (and on pool_strings: Kiln has
//! no string tensors).
TfIdfSpec parseTfIdf(const Node& node);

}  // namespace kiln::ir
