#include "ir/ops/einsum.h"

#include <algorithm>
#include <cctype>
#include <map>

namespace kiln::ir {
namespace {

constexpr int kEllipsisLabel = 128;

//! One term's labels; `ellipsisDims` dims replace "..." (at most one).
bool parseTerm(const std::string& term, int64_t ellipsisDims, std::vector<int>* labels, bool* hasEllipsis,
               std::string* error) {
  *hasEllipsis = false;
  for (std::size_t i = 0; i < term.size(); ++i) {
    char c = term[i];
    if (c == '.') {
      if (term.compare(i, 3, "...") != 0 || *hasEllipsis) {
        *error = "term \"" + term + "\" has a misplaced '.'";
        return false;
      }
      *hasEllipsis = true;
      for (int64_t k = 0; k < ellipsisDims; ++k) labels->push_back(kEllipsisLabel + static_cast<int>(k));
      i += 2;
    } else if (std::isalpha(static_cast<unsigned char>(c))) {
      labels->push_back(c);
    } else {
      *error = std::string("term \"") + term + "\" has the character '" + c + "' (labels are letters)";
      return false;
    }
  }
  return true;
}

int64_t lettersIn(const std::string& term) {
  return std::count_if(term.begin(), term.end(), [](char c) { return std::isalpha(static_cast<unsigned char>(c)); });
}

}  // namespace

bool parseEinsum(const std::string& equation, const std::vector<int64_t>& ranks, EinsumSpec* spec,
                 std::string* error) {
  std::string eq;
  for (char c : equation)
    if (!std::isspace(static_cast<unsigned char>(c))) eq += c;
  std::string lhs = eq, rhs;
  bool explicitOut = false;
  if (auto arrow = eq.find("->"); arrow != std::string::npos) {
    lhs = eq.substr(0, arrow);
    rhs = eq.substr(arrow + 2);
    explicitOut = true;
  }
  std::vector<std::string> terms;
  std::size_t start = 0;
  for (std::size_t i = 0; i <= lhs.size(); ++i)
    if (i == lhs.size() || lhs[i] == ',') {
      terms.push_back(lhs.substr(start, i - start));
      start = i + 1;
    }
  if (terms.size() != ranks.size()) {
    *error = "equation \"" + equation + "\" has " + std::to_string(terms.size()) + " input terms for " +
             std::to_string(ranks.size()) + " inputs";
    return false;
  }
  spec->inputs.assign(terms.size(), {});
  int64_t ellipsisDims = 0;
  for (std::size_t t = 0; t < terms.size(); ++t) {
    int64_t letters = lettersIn(terms[t]);
    bool dots = terms[t].find("...") != std::string::npos;
    int64_t e = dots ? ranks[t] - letters : 0;
    if (e < 0 || (!dots && letters != ranks[t])) {
      *error = "term \"" + terms[t] + "\" does not match input " + std::to_string(t) + " of rank " +
               std::to_string(ranks[t]);
      return false;
    }
    ellipsisDims = std::max(ellipsisDims, e);
    bool has = false;
    if (!parseTerm(terms[t], e, &spec->inputs[t], &has, error)) return false;
  }
  // Shorter ellipses broadcast against the longest one: right-align their labels.
  for (std::size_t t = 0; t < terms.size(); ++t) {
    int64_t e = 0;
    for (int l : spec->inputs[t]) e += l >= kEllipsisLabel;
    for (int& l : spec->inputs[t])
      if (l >= kEllipsisLabel) l += static_cast<int>(ellipsisDims - e);
  }
  spec->output.clear();
  if (explicitOut) {
    bool has = false;
    if (!parseTerm(rhs, ellipsisDims, &spec->output, &has, error)) return false;
    for (std::size_t i = 0; i < spec->output.size(); ++i) {
      int l = spec->output[i];
      if (std::count(spec->output.begin(), spec->output.end(), l) > 1) {
        *error = "output term \"" + rhs + "\" repeats a label";
        return false;
      }
      bool found = false;
      for (const auto& in : spec->inputs) found = found || std::count(in.begin(), in.end(), l) > 0;
      if (!found) {
        *error = "output term \"" + rhs + "\" has a label no input has";
        return false;
      }
    }
  } else {
    // Implicit output: the ellipsis dims, then the labels used once, in alphabetical order.
    std::map<int, int> uses;
    for (const auto& in : spec->inputs)
      for (int l : in) ++uses[l];
    for (int64_t k = 0; k < ellipsisDims; ++k) spec->output.push_back(kEllipsisLabel + static_cast<int>(k));
    for (auto [l, n] : uses)
      if (l < kEllipsisLabel && n == 1) spec->output.push_back(l);
  }
  return true;
}

}  // namespace kiln::ir
