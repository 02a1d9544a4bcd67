// Einsum equations ("bij,bjk->bik", "...ii->...i", "i,i"), parsed once for
// the schema (output shape) and the CPU kernel (the loops). An ellipsis
// stands for the same leading broadcast dims in every term; it becomes labels
// of its own (numbered from 128, beyond ASCII letters).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace kiln::ir {

struct EinsumSpec {
  //! Labels of each input term, one per dim (an ellipsis already expanded).
  std::vector<std::vector<int>> inputs;
  //! Labels of the output, in order.
  std::vector<int> output;
};

//! Parses `equation` for inputs of the given ranks; on a malformed equation
//! returns false with `error` saying why (the schema names the node).
bool parseEinsum(const std::string& equation, const std::vector<int64_t>& ranks, EinsumSpec* spec, std::string* error);

}  // namespace kiln::ir
