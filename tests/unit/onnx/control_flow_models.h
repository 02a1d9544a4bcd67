// Small ONNX models with If, Loop and Scan whose subgraphs read values of
// enclosing graphs implicitly (as ONNX allows); shared by the parser tests and
// the API tests that build and run them.
#pragma once
#include "unit/onnx/onnx_model_builder.h"

namespace kiln::test {

inline ::onnx::GraphProto* graphAttr(::onnx::NodeProto* n, const std::string& name) {
  auto* a = n->add_attribute();
  a->set_name(name);
  a->set_type(::onnx::AttributeProto::GRAPH);
  a->mutable_g()->set_name(name);
  return a->mutable_g();
}

inline ::onnx::NodeProto* addNode(::onnx::GraphProto* g, const std::string& op, const std::vector<std::string>& ins,
                                  const std::vector<std::string>& outs, const std::string& name = "") {
  auto* n = g->add_node();
  n->set_op_type(op);
  n->set_name(name.empty() ? outs.at(0) + "_node" : name);
  for (auto& i : ins) n->add_input(i);
  for (auto& o : outs) n->add_output(o);
  return n;
}

inline void addValueInfo(::google::protobuf::RepeatedPtrField<::onnx::ValueInfoProto>* list, const std::string& name,
                         int32_t elemType) {
  auto* vi = list->Add();
  vi->set_name(name);
  if (elemType) vi->mutable_type()->mutable_tensor_type()->set_elem_type(elemType);
}

//! x float [2,3], c bool [] -> y = 2x; z = If(c) then y + x (captures y, x) else y - 1 (a branch constant).
inline std::string ifModel() {
  OnnxModelBuilder b(13);
  b.input("x", TP::FLOAT, {2, 3}).input("c", TP::BOOL, {}).output("z");
  b.initializer("two", {}, {2.f});
  b.node("Mul", {"x", "two"}, {"y"}, "double");
  auto* n = b.node("If", {"c"}, {"z"}, "choose");
  auto* thenG = graphAttr(n, "then_branch");
  addNode(thenG, "Add", {"y", "x"}, {"then_out"});
  addValueInfo(thenG->mutable_output(), "then_out", TP::FLOAT);
  auto* elseG = graphAttr(n, "else_branch");
  *elseG->add_initializer() = floatTensor("one", {}, {1.f});
  addNode(elseG, "Sub", {"y", "one"}, {"else_out"});
  addValueInfo(elseG->mutable_output(), "else_out", TP::FLOAT);
  return b.bytes();
}

//! x float [3] -> Loop M=4 (no condition), acc starts at 0:
//!   sel = If(cond_in) then x (captured two levels up) else -x;  acc += sel * float(i); scan acc.
//! Outputs: acc_final [3] = 6x, accs [4,3] row k = x * k(k+1)/2.
inline std::string loopModel() {
  OnnxModelBuilder b(13);
  b.input("x", TP::FLOAT, {3}).output("acc_final").output("accs");
  b.initializerInt64("M", {}, {4});
  b.initializer("zeros", {3}, {0.f, 0.f, 0.f});
  auto* n = b.node("Loop", {"M", "", "zeros"}, {"acc_final", "accs"}, "loop");
  auto* body = graphAttr(n, "body");
  addValueInfo(body->mutable_input(), "i", TP::INT64);
  addValueInfo(body->mutable_input(), "cond_in", TP::BOOL);
  addValueInfo(body->mutable_input(), "acc", 0);
  auto* inner = addNode(body, "If", {"cond_in"}, {"sel"}, "pick");
  auto* thenG = graphAttr(inner, "then_branch");
  addNode(thenG, "Identity", {"x"}, {"x_copy"});
  addValueInfo(thenG->mutable_output(), "x_copy", TP::FLOAT);
  auto* elseG = graphAttr(inner, "else_branch");
  addNode(elseG, "Neg", {"x"}, {"x_neg"});
  addValueInfo(elseG->mutable_output(), "x_neg", TP::FLOAT);
  auto* cast = addNode(body, "Cast", {"i"}, {"fi"});
  setAttr(cast, "to", int64_t{TP::FLOAT});
  addNode(body, "Mul", {"sel", "fi"}, {"step"});
  addNode(body, "Add", {"acc", "step"}, {"acc_out"});
  addNode(body, "Identity", {"cond_in"}, {"cond_out"});
  addNode(body, "Identity", {"acc_out"}, {"acc_scan"});
  addValueInfo(body->mutable_output(), "cond_out", TP::BOOL);
  addValueInfo(body->mutable_output(), "acc_out", TP::FLOAT);
  addValueInfo(body->mutable_output(), "acc_scan", TP::FLOAT);
  return b.bytes();
}

//! s0 float [2], xs float [3,2] (scanned along axis 0, forward), ys float [2,3]
//! (along axis 1, reverse), scale [2] captured:
//!   s += xs[t] * ys[:, 2-t] * scale; out[:, t] = s (scan_output_axes 1).
inline std::string scanModel() {
  OnnxModelBuilder b(11);
  b.input("s0", TP::FLOAT, {2}).input("xs", TP::FLOAT, {3, 2}).input("ys", TP::FLOAT, {2, 3});
  b.output("s_final").output("outs");
  b.initializer("neg_scale", {2}, {-0.5f, 2.f});
  b.node("Neg", {"neg_scale"}, {"scale"}, "scale");  // computed: the body captures it
  auto* n = b.node("Scan", {"s0", "xs", "ys"}, {"s_final", "outs"}, "scan");
  setAttr(n, "num_scan_inputs", int64_t{2});
  setAttr(n, "scan_input_axes", std::vector<int64_t>{0, 1});
  setAttr(n, "scan_input_directions", std::vector<int64_t>{0, 1});
  setAttr(n, "scan_output_axes", std::vector<int64_t>{1});
  auto* body = graphAttr(n, "body");
  addValueInfo(body->mutable_input(), "s", TP::FLOAT);
  addValueInfo(body->mutable_input(), "x_t", TP::FLOAT);
  addValueInfo(body->mutable_input(), "y_t", TP::FLOAT);
  addNode(body, "Mul", {"x_t", "y_t"}, {"xy"});
  addNode(body, "Mul", {"xy", "scale"}, {"xys"});
  addNode(body, "Add", {"s", "xys"}, {"s_out"});
  addNode(body, "Identity", {"s_out"}, {"s_scan"});
  addValueInfo(body->mutable_output(), "s_out", TP::FLOAT);
  addValueInfo(body->mutable_output(), "s_scan", TP::FLOAT);
  return b.bytes();
}

//! Opset 8's batched Scan: s0 [B=2,2], xs [B=2,T=3,2] scanned along axis 1 in reverse
//! (directions [1]); s += x_t; outs[b, t] = s. sequence_lens is absent (input "").
inline std::string scan8Model() {
  OnnxModelBuilder b(8);
  b.input("s0", TP::FLOAT, {2, 2}).input("xs", TP::FLOAT, {2, 3, 2});
  b.output("s_final").output("outs");
  auto* n = b.node("Scan", {"", "s0", "xs"}, {"s_final", "outs"}, "scan8");
  setAttr(n, "num_scan_inputs", int64_t{1});
  setAttr(n, "directions", std::vector<int64_t>{1});
  auto* body = graphAttr(n, "body");
  addValueInfo(body->mutable_input(), "s", TP::FLOAT);
  addValueInfo(body->mutable_input(), "x_t", TP::FLOAT);
  addNode(body, "Add", {"s", "x_t"}, {"s_out"});
  addNode(body, "Identity", {"s_out"}, {"s_scan"});
  addValueInfo(body->mutable_output(), "s_out", TP::FLOAT);
  addValueInfo(body->mutable_output(), "s_scan", TP::FLOAT);
  return b.bytes();
}

}  // namespace kiln::test
