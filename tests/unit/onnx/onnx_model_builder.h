// Builds small ONNX ModelProtos in C++ for the parser tests.
#pragma once
#include <cstring>
#include <string>
#include <variant>
#include <vector>

#include <onnx/onnx_pb.h>

#include "core/error.h"
#include "ir/graph.h"
#include "onnx/importer.h"

namespace kiln::test {

using TP = ::onnx::TensorProto;
//! A dimension: a size, a symbol ("batch"), or kUnknownDim for neither.
using DimSpec = std::variant<int64_t, std::string>;
constexpr int64_t kUnknownDim = -1;

inline void setAttr(::onnx::NodeProto* n, const std::string& name, int64_t v) {
  auto* a = n->add_attribute();
  a->set_name(name);
  a->set_type(::onnx::AttributeProto::INT);
  a->set_i(v);
}
inline void setAttr(::onnx::NodeProto* n, const std::string& name, int v) { setAttr(n, name, int64_t{v}); }
inline void setAttr(::onnx::NodeProto* n, const std::string& name, float v) {
  auto* a = n->add_attribute();
  a->set_name(name);
  a->set_type(::onnx::AttributeProto::FLOAT);
  a->set_f(v);
}
inline void setAttr(::onnx::NodeProto* n, const std::string& name, const std::string& v) {
  auto* a = n->add_attribute();
  a->set_name(name);
  a->set_type(::onnx::AttributeProto::STRING);
  a->set_s(v);
}
inline void setAttr(::onnx::NodeProto* n, const std::string& name, const char* v) {
  setAttr(n, name, std::string(v));
}
inline void setAttr(::onnx::NodeProto* n, const std::string& name, const std::vector<int64_t>& v) {
  auto* a = n->add_attribute();
  a->set_name(name);
  a->set_type(::onnx::AttributeProto::INTS);
  for (int64_t x : v) a->add_ints(x);
}
inline void setAttr(::onnx::NodeProto* n, const std::string& name, const std::vector<float>& v) {
  auto* a = n->add_attribute();
  a->set_name(name);
  a->set_type(::onnx::AttributeProto::FLOATS);
  for (float x : v) a->add_floats(x);
}
inline void setAttr(::onnx::NodeProto* n, const std::string& name, const TP& t) {
  auto* a = n->add_attribute();
  a->set_name(name);
  a->set_type(::onnx::AttributeProto::TENSOR);
  *a->mutable_t() = t;
}

//! A float tensor with its values in raw_data (as onnx.numpy_helper writes them).
inline TP floatTensor(const std::string& name, const std::vector<int64_t>& dims, const std::vector<float>& values) {
  TP t;
  t.set_name(name);
  t.set_data_type(TP::FLOAT);
  for (int64_t d : dims) t.add_dims(d);
  t.set_raw_data(std::string(reinterpret_cast<const char*>(values.data()), values.size() * sizeof(float)));
  return t;
}
//! An int64 tensor with its values in int64_data.
inline TP int64Tensor(const std::string& name, const std::vector<int64_t>& dims, const std::vector<int64_t>& values) {
  TP t;
  t.set_name(name);
  t.set_data_type(TP::INT64);
  for (int64_t d : dims) t.add_dims(d);
  for (int64_t v : values) t.add_int64_data(v);
  return t;
}
//! `n` floats 0, 0.1, 0.2, ... (deterministic weights).
inline std::vector<float> ramp(int64_t n, float step = 0.1f) {
  std::vector<float> v(static_cast<std::size_t>(n));
  for (int64_t i = 0; i < n; ++i) v[i] = static_cast<float>(i) * step;
  return v;
}

class OnnxModelBuilder {
 public:
  explicit OnnxModelBuilder(int64_t opset = 13) {
    model_.set_ir_version(8);
    model_.set_producer_name("kiln-tests");
    auto* o = model_.add_opset_import();
    o->set_domain("");
    o->set_version(opset);
    graph()->set_name("test");
  }

  ::onnx::ModelProto& model() { return model_; }
  ::onnx::GraphProto* graph() { return model_.mutable_graph(); }

  OnnxModelBuilder& input(const std::string& name, int32_t elemType, const std::vector<DimSpec>& dims) {
    fillValueInfo(graph()->add_input(), name, elemType, &dims);
    return *this;
  }
  //! A graph output; elemType 0 leaves the type out.
  OnnxModelBuilder& output(const std::string& name, int32_t elemType = TP::FLOAT) {
    fillValueInfo(graph()->add_output(), name, elemType, nullptr);
    return *this;
  }
  OnnxModelBuilder& output(const std::string& name, int32_t elemType, const std::vector<DimSpec>& dims) {
    fillValueInfo(graph()->add_output(), name, elemType, &dims);
    return *this;
  }
  TP* initializer(const TP& t) {
    auto* out = graph()->add_initializer();
    *out = t;
    return out;
  }
  TP* initializer(const std::string& name, const std::vector<int64_t>& dims, const std::vector<float>& values) {
    return initializer(floatTensor(name, dims, values));
  }
  TP* initializerInt64(const std::string& name, const std::vector<int64_t>& dims, const std::vector<int64_t>& values) {
    return initializer(int64Tensor(name, dims, values));
  }
  ::onnx::NodeProto* node(const std::string& op, const std::vector<std::string>& ins,
                          const std::vector<std::string>& outs, const std::string& name = "") {
    auto* n = graph()->add_node();
    n->set_op_type(op);
    if (!name.empty()) n->set_name(name);
    for (auto& i : ins) n->add_input(i);
    for (auto& o : outs) n->add_output(o);
    return n;
  }

  std::string bytes() const { return model_.SerializeAsString(); }

 private:
  static void fillValueInfo(::onnx::ValueInfoProto* vi, const std::string& name, int32_t elemType,
                            const std::vector<DimSpec>* dims) {
    vi->set_name(name);
    if (!elemType && !dims) return;
    auto* tt = vi->mutable_type()->mutable_tensor_type();
    if (elemType) tt->set_elem_type(elemType);
    if (!dims) return;
    auto* shape = tt->mutable_shape();
    for (const DimSpec& d : *dims) {
      auto* dim = shape->add_dim();
      if (auto* s = std::get_if<std::string>(&d)) dim->set_dim_param(*s);
      else if (std::get<int64_t>(d) >= 0) dim->set_dim_value(std::get<int64_t>(d));
    }
  }

  ::onnx::ModelProto model_;
};

inline onnx::ImportResult importBytes(const std::string& bytes, ir::Graph& g, const std::string& dir = "") {
  return onnx::importModel(bytes.data(), bytes.size(), dir, g);
}

//! All error descriptions joined, for failure messages.
inline std::string errorText(const onnx::ImportResult& r) {
  std::string s;
  for (auto& e : r.errors) s += e.desc + "\n";
  return s;
}

//! The graph's nodes' op names in order.
inline std::vector<std::string> opsOf(const ir::Graph& g) {
  std::vector<std::string> ops;
  for (auto& n : g.nodes()) ops.push_back(n->op);
  return ops;
}

}  // namespace kiln::test
