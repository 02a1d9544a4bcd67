// Kernels of NonZero, Compress and Unique, whose output sizes depend on the data:
// each writes its elements contiguously for the size it finds and reports
// that size (reportOutputDims); its output buffer holds the upper bound.
#include <algorithm>
#include <cstring>
#include <string>

#include "backends/cpu/ops/tensor_copy.h"

namespace kiln::cpu {
namespace {

//! Whether element i of `v` is nonzero (floats: -0.0 is zero too).
bool isNonZero(const TensorView& v, int64_t i) {
  switch (v.dtype) {
    case DType::kFLOAT: return v.as<const float>()[i] != 0.0f;
    case DType::kHALF:
    case DType::kBF16: return (v.as<const uint16_t>()[i] & 0x7fffu) != 0;
    default: break;
  }
  switch (elementSize(v)) {
    case 1: return v.as<const uint8_t>()[i] != 0;
    case 2: return v.as<const uint16_t>()[i] != 0;
    case 4: return v.as<const uint32_t>()[i] != 0;
    default: return v.as<const uint64_t>()[i] != 0;
  }
}

class NonZeroKernel : public Kernel {
 public:
  explicit NonZeroKernel(const ir::Node& node) {}

  void run(const ExecContext& ctx, const TensorView* in, const TensorView* out) const override {
    const TensorView& x = in[0];
    int64_t numel = x.numel(), count = 0;
    for (int64_t i = 0; i < numel; ++i) count += isNonZero(x, i);
    int rank = std::max(1, x.rank);
    int64_t* dst = out[0].as<int64_t>();
    int64_t k = 0;
    for (int64_t i = 0; i < numel; ++i) {
      if (!isNonZero(x, i)) continue;
      // Row d of the output holds coordinate d of every nonzero element.
      int64_t rest = i;
      for (int d = x.rank - 1; d >= 0; --d) {
        dst[d * count + k] = rest % x.dims[d];
        rest /= x.dims[d];
      }
      if (x.rank == 0) dst[k] = 0;
      ++k;
    }
    reportOutputDims(ctx, 0, {rank, count});
  }
};

class CompressKernel : public Kernel {
 public:
  explicit CompressKernel(const ir::Node& node)
      : who_(node.describe()), hasAxis_(node.has("axis")), axis_(node.i("axis", 0)) {}

  void run(const ExecContext& ctx, const TensorView* in, const TensorView* out) const override {
    const TensorView &x = in[0], &cond = in[1];
    const uint8_t* keep = cond.as<const uint8_t>();
    int64_t es = elementSize(x);
    const uint8_t* src = x.as<const uint8_t>();
    uint8_t* dst = out[0].as<uint8_t>();
    if (!hasAxis_) {
      int64_t n = std::min(x.numel(), cond.numel()), kept = 0;
      for (int64_t i = 0; i < n; ++i)
        if (keep[i]) std::memcpy(dst + (kept++) * es, src + i * es, static_cast<std::size_t>(es));
      reportOutputDims(ctx, 0, {kept});
      return;
    }
    int rank = x.rank;
    KILN_CHECK(axis_ >= -rank && axis_ < rank, who_, ": axis ", axis_, " is out of range for rank ", rank);
    int axis = static_cast<int>(axis_ < 0 ? axis_ + rank : axis_);
    int64_t outer = 1, inner = 1, dim = x.dims[axis];
    for (int k = 0; k < axis; ++k) outer *= x.dims[k];
    for (int k = axis + 1; k < rank; ++k) inner *= x.dims[k];
    int64_t n = std::min(dim, cond.numel()), kept = 0;
    for (int64_t j = 0; j < n; ++j) kept += keep[j] != 0;
    std::size_t slice = static_cast<std::size_t>(inner * es);
    for (int64_t o = 0; o < outer; ++o) {
      int64_t k = 0;
      for (int64_t j = 0; j < n; ++j)
        if (keep[j]) std::memcpy(dst + ((o * kept) + k++) * slice, src + (o * dim + j) * slice, slice);
    }
    if (ctx.actualOutputs) {
      TensorView& actual = ctx.actualOutputs[0];
      actual.rank = rank;
      for (int k = 0; k < rank; ++k) actual.dims[k] = k == axis ? kept : x.dims[k];
    }
  }

 private:
  std::string who_;
  bool hasAxis_;
  int64_t axis_;
};

//! Three-way compare of elements a and b of `v` (numeric order).
int compareElements(const TensorView& v, int64_t a, int64_t b) {
  auto cmp = [&]<typename T>() {
    T x = v.as<const T>()[a], y = v.as<const T>()[b];
    return x < y ? -1 : y < x ? 1 : 0;
  };
  switch (v.dtype) {
    case DType::kFLOAT: return cmp.template operator()<float>();
    case DType::kINT32: return cmp.template operator()<int32_t>();
    case DType::kINT64: return cmp.template operator()<int64_t>();
    case DType::kINT8: return cmp.template operator()<int8_t>();
    default: return cmp.template operator()<uint8_t>();  // uint8, bool
  }
}

bool uniqueTypes(const ir::Node& node) {
  DType t = node.inputs[0]->dtype;
  return t == DType::kFLOAT || t == DType::kINT32 || t == DType::kINT64 || t == DType::kINT8 || t == DType::kUINT8 ||
         t == DType::kBOOL;
}

// Unique: items (elements, or slices along the axis) are ordered by a stable
// sort, equal neighbours form one unique item; unsorted output lists the
// unique items by first occurrence. Scratch: the order, each item's group, and
// each group's first item (workspace, sized for the largest shape).
class UniqueKernel : public Kernel {
 public:
  explicit UniqueKernel(const ir::Node& node)
      : who_(node.describe()),
        hasAxis_(node.has("axis")),
        axis_(node.i("axis", 0)),
        sorted_(node.i("sorted", 1) != 0),
        nOut_(node.outputs.size()) {
    const ir::Shape& s = node.inputs[0]->shape;
    maxItems_ = 1;
    if (hasAxis_) {
      int64_t a = axis_ < 0 ? axis_ + static_cast<int64_t>(s.size()) : axis_;
      maxItems_ = a >= 0 && a < static_cast<int64_t>(s.size()) && s[a].known() ? s[a].value : 0;
    } else {
      for (const ir::Dim& d : s) maxItems_ *= d.known() ? d.value : 0;
    }
  }
  std::size_t workspaceBytes() const override { return static_cast<std::size_t>(4 * maxItems_) * sizeof(int64_t); }

  void run(const ExecContext& ctx, const TensorView* in, const TensorView* out) const override {
    const TensorView& x = in[0];
    int rank = x.rank;
    int axis = 0;
    int64_t outer = 1, items = x.numel(), inner = 1;
    if (hasAxis_) {
      KILN_CHECK(axis_ >= -rank && axis_ < rank, who_, ": axis ", axis_, " is out of range for rank ", rank);
      axis = static_cast<int>(axis_ < 0 ? axis_ + rank : axis_);
      items = x.dims[axis];
      outer = inner = 1;
      for (int k = 0; k < axis; ++k) outer *= x.dims[k];
      for (int k = axis + 1; k < rank; ++k) inner *= x.dims[k];
    }
    KILN_CHECK(items <= maxItems_, who_, ": ", items, " items, the kernel was made for at most ", maxItems_);
    // Items compare lexicographically over their elements (outer-major, then inner).
    auto compareItems = [&](int64_t a, int64_t b) {
      for (int64_t o = 0; o < outer; ++o)
        for (int64_t i = 0; i < inner; ++i) {
          int c = compareElements(x, (o * items + a) * inner + i, (o * items + b) * inner + i);
          if (c) return c;
        }
      return 0;
    };
    int64_t* order = static_cast<int64_t*>(ctx.workspace);
    int64_t* group = order + items;      // item -> its group (in sorted order)
    int64_t* first = group + items;      // group -> its first item
    int64_t* position = first + items;   // group -> its place in the output
    for (int64_t j = 0; j < items; ++j) order[j] = j;
    std::stable_sort(order, order + items, [&](int64_t a, int64_t b) { return compareItems(a, b) < 0; });
    int64_t groups = 0;
    for (int64_t k = 0; k < items; ++k) {
      if (k == 0 || compareItems(order[k - 1], order[k]) != 0) first[groups++] = order[k];
      group[order[k]] = groups - 1;
    }
    // Sorted: groups in value order. Unsorted: by first occurrence.
    for (int64_t g = 0; g < groups; ++g) position[g] = g;
    if (!sorted_)
      std::sort(position, position + groups, [&](int64_t a, int64_t b) { return first[a] < first[b]; });
    // position[] now lists groups in output order; invert it into rank[] (reusing `order`).
    int64_t* rankOf = order;
    for (int64_t p = 0; p < groups; ++p) rankOf[position[p]] = p;
    const int64_t es = elementSize(x);
    const uint8_t* src = x.as<const uint8_t>();
    uint8_t* dst = out[0].as<uint8_t>();
    const std::size_t slice = static_cast<std::size_t>(inner * es);
    for (int64_t p = 0; p < groups; ++p)
      for (int64_t o = 0; o < outer; ++o)
        std::memcpy(dst + (o * groups + p) * slice, src + (o * items + first[position[p]]) * slice, slice);
    if (nOut_ > 1)
      for (int64_t p = 0; p < groups; ++p) out[1].as<int64_t>()[p] = first[position[p]];
    if (nOut_ > 2)
      for (int64_t j = 0; j < items; ++j) out[2].as<int64_t>()[j] = rankOf[group[j]];
    if (nOut_ > 3) {
      int64_t* counts = out[3].as<int64_t>();
      std::fill(counts, counts + groups, 0);
      for (int64_t j = 0; j < items; ++j) ++counts[rankOf[group[j]]];
    }
    if (ctx.actualOutputs) {
      TensorView& y = ctx.actualOutputs[0];
      if (hasAxis_) {
        y.rank = rank;
        for (int k = 0; k < rank; ++k) y.dims[k] = k == axis ? groups : x.dims[k];
      } else {
        y.rank = 1;
        y.dims[0] = groups;
      }
    }
    if (nOut_ > 1) reportOutputDims(ctx, 1, {groups});
    if (nOut_ > 3) reportOutputDims(ctx, 3, {groups});
  }

 private:
  std::string who_;
  bool hasAxis_;
  int64_t axis_;
  bool sorted_;
  std::size_t nOut_;
  int64_t maxItems_ = 0;
};

}  // namespace

void registerSelectKernels(TacticRegistry& r) {
  r.add(refTactic<NonZeroKernel>("NonZero"));
  r.add(refTactic<CompressKernel>("Compress"));
  r.add(refTactic<UniqueKernel>("Unique", uniqueTypes));
}

}  // namespace kiln::cpu
