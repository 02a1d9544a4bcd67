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

//! One element of an integer tensor that holds sizes (Reshape's or Expand's
//! shape): a known value, or else the size of some tensor dim (`dim`, maybe
//! symbolic: "N"), or else unknown (`dim` anonymous).
struct SizeValue {
  bool known = false;
  int64_t value = 0;
  Dim dim;
};
//! The elements of scalar or 1-D integer input `i` when they can be told
//! without running the graph: a constant, or a Shape -> Gather / Slice /
//! Concat / Unsqueeze / Cast / arithmetic chain whose leaves are constants and
//! tensor dims. This is how Reshape(x, Concat(Shape(x)[0], [-1])) keeps "N"
//! before constant folding (which cannot fold symbolic dims) runs.
std::optional<std::vector<SizeValue>> sizeValues(const InferContext& ctx, std::size_t i);
//! A shape from size values (known values must be >= 0); errors name `what`.
Shape shapeFromSizes(const InferContext& ctx, const std::vector<SizeValue>& sizes, const char* what);

// The schema files; registerTensorSchemas (tensor.cc) calls each.
void registerShapeOpSchemas(SchemaRegistry& r);   // tensor.cc
void registerIndexOpSchemas(SchemaRegistry& r);   // tensor_index.cc
void registerLayoutOpSchemas(SchemaRegistry& r);  // tensor_layout.cc
void registerSelectOpSchemas(SchemaRegistry& r);  // tensor_select.cc
void registerScatterOpSchemas(SchemaRegistry& r);  // tensor_scatter.cc

}  // namespace kiln::ir::tensor_ops
