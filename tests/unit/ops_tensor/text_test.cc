// TfIdfVectorizer: counts worked out by hand for unigrams and bigrams with and
// without skips, n-gram lengths outside [min, max] that still take their
// ngram_indexes slot, a trigram whose prefix is no pooled bigram, the IDF and
// TF-IDF modes with and without weights, a batch of int32 rows, gaps in the
// output positions, and malformed attributes.
#include "unit/ops_tensor/tensor_test_util.h"

namespace kiln::test {
namespace {

using ir::Shape;

//! Pool: unigrams {1, 3}, bigrams {(1,2), (2,1)}; outputs 0..3 in pool order.
void tfidf(OpTest& t, const ir::Tensor& x, int64_t minGram, int64_t maxGram, int64_t maxSkip, const char* mode = "TF",
           std::vector<int64_t> indexes = {0, 1, 2, 3}) {
  t.input(x)
      .attr("mode", std::string(mode))
      .attr("min_gram_length", minGram)
      .attr("max_gram_length", maxGram)
      .attr("max_skip_count", maxSkip)
      .attr("pool_int64s", std::vector<int64_t>{1, 3, 1, 2, 2, 1})
      .attr("ngram_counts", std::vector<int64_t>{0, 2})
      .attr("ngram_indexes", std::move(indexes));
}

std::vector<float> scores(OpTest& t) { return valuesOf<float>(t.run1()); }

TEST(TfIdfVectorizer, UnigramsAndBigramsWithSkips) {
  ir::Tensor x = ints({1, 2, 1, 2, 3});
  {  // 1 at 0 and 2, 3 at 4; (1,2) at 0 and 2, (2,1) at 1.
    OpTest t("TfIdfVectorizer", "tfidf");
    tfidf(t, x, 1, 2, 0);
    EXPECT_EQ(t.shape(), (Shape{4}));
    EXPECT_EQ(scores(t), (std::vector<float>{2, 1, 2, 1}));
  }
  {  // skip 1 (distance 2) pairs (1,1) (2,2) (1,3): none pooled, and unigrams are not counted again.
    OpTest t("TfIdfVectorizer", "tfidf");
    tfidf(t, x, 1, 2, 1);
    EXPECT_EQ(scores(t), (std::vector<float>{2, 1, 2, 1}));
  }
  {  // distance 3 adds (1,2) at 0 and 3.
    OpTest t("TfIdfVectorizer", "tfidf");
    tfidf(t, x, 1, 2, 2);
    EXPECT_EQ(scores(t), (std::vector<float>{2, 1, 3, 1}));
  }
  {  // only bigrams: the unigrams keep their output slots, left at 0.
    OpTest t("TfIdfVectorizer", "tfidf");
    tfidf(t, x, 2, 2, 0);
    EXPECT_EQ(scores(t), (std::vector<float>{0, 0, 2, 1}));
  }
  {  // only unigrams
    OpTest t("TfIdfVectorizer", "tfidf");
    tfidf(t, x, 1, 1, 3);
    EXPECT_EQ(scores(t), (std::vector<float>{2, 1, 0, 0}));
  }
}

TEST(TfIdfVectorizer, BatchOfInt32RowsAndOutputGaps) {
  // Row 0 [1,2,1]: 1 twice, (1,2), (2,1). Row 1 [2,1,3]: 1, 3, (2,1).
  OpTest t("TfIdfVectorizer", "tfidf");
    tfidf(t, makeTensor<int32_t>({2, 3}, {1, 2, 1, 2, 1, 3}), 1, 2, 0, "TF", {4, 0, 1, 2});
  EXPECT_EQ(t.shape(), (Shape{2, 5}));
  // Output positions: unigram 1 -> 4, unigram 3 -> 0, (1,2) -> 1, (2,1) -> 2, position 3 unused.
  EXPECT_EQ(scores(t), (std::vector<float>{0, 1, 1, 0, 2, 1, 0, 1, 0, 1}));
  OpTest sym("TfIdfVectorizer");
  sym.symbolic(DType::kINT64, {named("N"), 7})
      .attr("mode", std::string("TF"))
      .attr("min_gram_length", int64_t{1})
      .attr("max_gram_length", int64_t{1})
      .attr("max_skip_count", int64_t{0})
      .attr("pool_int64s", std::vector<int64_t>{5})
      .attr("ngram_counts", std::vector<int64_t>{0})
      .attr("ngram_indexes", std::vector<int64_t>{2});
  EXPECT_EQ(sym.shape(), (Shape{named("N"), 3}));
  EXPECT_EQ(sym.out().dtype, DType::kFLOAT);
}

TEST(TfIdfVectorizer, TrigramWithoutPooledPrefix) {
  OpTest t("TfIdfVectorizer");
  t.input(ints({1, 2, 3, 1, 2, 3, 1, 2}))
      .attr("mode", std::string("TF"))
      .attr("min_gram_length", int64_t{1})
      .attr("max_gram_length", int64_t{3})
      .attr("max_skip_count", int64_t{0})
      .attr("pool_int64s", std::vector<int64_t>{1, 2, 3})
      .attr("ngram_counts", std::vector<int64_t>{0, 0, 0})
      .attr("ngram_indexes", std::vector<int64_t>{0});
  EXPECT_EQ(scores(t), (std::vector<float>{2}));
}

TEST(TfIdfVectorizer, IdfAndTfIdfModes) {
  ir::Tensor x = ints({3, 3, 1, 2});  // counts: 1 -> 1, 3 -> 2, (1,2) -> 1, (2,1) -> 0
  const std::vector<float> w = {0.5f, 0.25f, 3, 4};
  {
    OpTest t("TfIdfVectorizer", "tfidf");
    tfidf(t, x, 1, 2, 0, "TF");
    EXPECT_EQ(scores(t), (std::vector<float>{1, 2, 1, 0}));
  }
  {
    OpTest t("TfIdfVectorizer", "tfidf");
    tfidf(t, x, 1, 2, 0, "IDF");
    EXPECT_EQ(scores(t), (std::vector<float>{1, 1, 1, 0}));
  }
  {
    OpTest t("TfIdfVectorizer", "tfidf");
    tfidf(t, x, 1, 2, 0, "IDF");
    t.attr("weights", w);
    EXPECT_EQ(scores(t), (std::vector<float>{0.5f, 0.25f, 3, 0}));
  }
  {
    OpTest t("TfIdfVectorizer", "tfidf");
    tfidf(t, x, 1, 2, 0, "TFIDF");
    EXPECT_EQ(scores(t), (std::vector<float>{1, 2, 1, 0}));
  }
  {
    OpTest t("TfIdfVectorizer", "tfidf");
    tfidf(t, x, 1, 2, 0, "TFIDF");
    t.attr("weights", w);
    EXPECT_EQ(scores(t), (std::vector<float>{0.5f, 0.5f, 3, 0}));
  }
  {  // an empty row scores zeros
    OpTest t("TfIdfVectorizer", "tfidf");
    tfidf(t, makeTensor<int64_t>({0}, {}), 1, 2, 0, "IDF");
    EXPECT_EQ(scores(t), (std::vector<float>{0, 0, 0, 0}));
  }
}

TEST(TfIdfVectorizer, MalformedAttributesNameTheNode) {
  ir::Tensor x = ints({1, 2});
  {
    OpTest t("TfIdfVectorizer", "tfidf");
    tfidf(t, x, 1, 2, 0, "BM25");
    expectNodeError([&] { t.infer(); }, "tfidf", "'mode' must be TF, IDF or TFIDF");
  }
  {
    OpTest t("TfIdfVectorizer", "tfidf");
    tfidf(t, x, 1, 2, 0, "TF", {0, 1, 2});
    expectNodeError([&] { t.infer(); }, "tfidf", "has 3 values but the pool holds 4 n-grams");
  }
  {
    OpTest t("TfIdfVectorizer", "tfidf");
    tfidf(t, x, 2, 1, 0);
    expectNodeError([&] { t.infer(); }, "tfidf", "must be >= min_gram_length");
  }
  {
    OpTest t("TfIdfVectorizer", "tfidf");
    tfidf(t, x, 1, 2, 0);
    t.attr("ngram_counts", std::vector<int64_t>{0, 3});  // 3 values left for bigrams
    expectNodeError([&] { t.infer(); }, "tfidf", "not a multiple of 2");
  }
  {
    OpTest t("TfIdfVectorizer", "tfidf");
    tfidf(t, x, 1, 2, 0);
    t.attr("pool_strings", std::vector<std::string>{"a"});
    expectNodeError([&] { t.infer(); }, "tfidf", "no string tensors");
  }
  {
    OpTest t("TfIdfVectorizer", "tfidf");
    tfidf(t, x, 1, 2, 0, "IDF", {0, 1, 2, 5});
    t.attr("weights", std::vector<float>{1, 1, 1, 1});
    expectNodeError([&] { t.infer(); }, "tfidf", "fewer than the 6 output positions");
  }
  {
    OpTest t("TfIdfVectorizer", "tfidf");
    tfidf(t, makeTensor<float>({2}, {1, 2}), 1, 2, 0);
    expectNodeError([&] { t.infer(); }, "tfidf", "int32 or int64 token ids");
  }
}

}  // namespace
}  // namespace kiln::test
