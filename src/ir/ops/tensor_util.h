// Helpers shared by the data-movement schemas (tensor.cc, tensor_index.cc).
// Shape-carrying inputs (Reshape's shape, Slice's starts, ...) give a known
// output only when they are constants; otherwise the schemas leave dims
// unknown so that constant folding can resolve them later.
#pragma once
#include <optional>
#include <vector>

#include "ir/op_schema.h"

namespace kiln::ir::tensor_ops {

//! Values of integer input `i` when it is a constant; nullopt when it is not
//! (or absent). Errors when the constant is not int32/int64.
std::optional<std::vector<int64_t>> constInts(const InferContext& ctx, std::size_t i, const char* what);
//! Number of elements of 1-D input `i` when its length is known, else -1.
int64_t knownLength(const InferContext& ctx, std::size_t i, const char* what);
//! Requires input `i` to be int32 or int64.
void checkIndexType(const InferContext& ctx, std::size_t i, const char* what);
//! Product of dims; a single symbolic factor among 1s keeps its symbol.
Dim productOfDims(const Shape& s, std::size_t begin, std::size_t end);
//! Normalizes `axes` against `rank`; errors on duplicates or out of range.
std::vector<int64_t> normalizeAxes(const InferContext& ctx, std::vector<int64_t> axes, int64_t rank,
                                   const char* what = "axes");

// The schema files; registerTensorSchemas (tensor.cc) calls each.
void registerShapeOpSchemas(SchemaRegistry& r);   // tensor.cc
void registerIndexOpSchemas(SchemaRegistry& r);   // tensor_index.cc
void registerLayoutOpSchemas(SchemaRegistry& r);  // tensor_layout.cc

}  // namespace kiln::ir::tensor_ops
