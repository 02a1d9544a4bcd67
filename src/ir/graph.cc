#include "ir/graph.h"

#include <algorithm>
#include <unordered_set>

#include "core/error.h"

namespace kiln::ir {

template <typename T>
static const T* getAttr(const Node& n, const std::string& name) {
  auto it = n.attrs.find(name);
  if (it == n.attrs.end()) return nullptr;
  const T* v = std::get_if<T>(&it->second);
  KILN_CHECK(v, n.describe(), ": attribute '", name, "' has the wrong type");
  return v;
}

int64_t Node::i(const std::string& attr, int64_t dflt) const {
  auto it = attrs.find(attr);
  if (it != attrs.end())
    if (auto* f = std::get_if<float>(&it->second)) return static_cast<int64_t>(*f);
  const int64_t* v = getAttr<int64_t>(*this, attr);
  return v ? *v : dflt;
}

float Node::f(const std::string& attr, float dflt) const {
  auto it = attrs.find(attr);
  if (it != attrs.end())
    if (auto* iv = std::get_if<int64_t>(&it->second)) return static_cast<float>(*iv);
  const float* v = getAttr<float>(*this, attr);
  return v ? *v : dflt;
}

std::string Node::s(const std::string& attr, const std::string& dflt) const {
  const std::string* v = getAttr<std::string>(*this, attr);
  return v ? *v : dflt;
}

std::vector<int64_t> Node::ints(const std::string& attr, std::vector<int64_t> dflt) const {
  const auto* v = getAttr<std::vector<int64_t>>(*this, attr);
  return v ? *v : dflt;
}

std::vector<float> Node::floats(const std::string& attr, std::vector<float> dflt) const {
  const auto* v = getAttr<std::vector<float>>(*this, attr);
  return v ? *v : dflt;
}

const Tensor* Node::tensor(const std::string& attr) const { return getAttr<Tensor>(*this, attr); }

Graph* Node::graph(const std::string& attr) const {
  const GraphAttr* g = getAttr<GraphAttr>(*this, attr);
  return g ? g->get() : nullptr;
}

std::string Node::describe() const { return strCat(op, " node \"", name, "\""); }

std::unique_ptr<Graph> Graph::clone() const {
  auto g = std::make_unique<Graph>();
  g->name = name;
  std::unordered_map<const Value*, Value*> map;
  for (auto& v : values_) {
    auto copy = std::make_unique<Value>(*v);
    copy->producer = nullptr;
    map[v.get()] = copy.get();
    g->byName_[copy->name] = copy.get();
    g->values_.push_back(std::move(copy));
  }
  auto mapped = [&](Value* v) -> Value* {
    if (!v) return nullptr;
    auto it = map.find(v);
    KILN_CHECK(it != map.end(), "graph clone: value \"", v->name, "\" is not owned by the graph");
    return it->second;
  };
  for (auto& n : nodes_) {
    std::vector<Value*> ins, outs;
    for (Value* v : n->inputs) ins.push_back(mapped(v));
    for (Value* v : n->outputs) outs.push_back(mapped(v));
    Node* c = g->addNode(n->op, n->name, std::move(ins), std::move(outs));
    c->attrs = n->attrs;
    for (auto& [key, a] : c->attrs)  // subgraphs are owned, not shared: passes may rewrite them
      if (auto* sub = std::get_if<GraphAttr>(&a))
        if (*sub) *sub = std::shared_ptr<Graph>((*sub)->clone());
    c->tactic = n->tactic;
  }
  for (Value* v : inputs) g->inputs.push_back(mapped(v));
  for (Value* v : outputs) g->outputs.push_back(mapped(v));
  return g;
}

Value* Graph::addValue(const std::string& name, DType dtype, Shape shape) {
  auto v = std::make_unique<Value>();
  v->name = uniqueName(name);
  v->dtype = dtype;
  v->shape = std::move(shape);
  Value* raw = v.get();
  byName_[raw->name] = raw;
  values_.push_back(std::move(v));
  return raw;
}

Value* Graph::addConstant(const std::string& name, Tensor tensor) {
  Value* v = addValue(name, tensor.dtype(), shapeOf(tensor.dims()));
  v->constant = std::make_shared<const Tensor>(std::move(tensor));
  return v;
}

Node* Graph::addNode(const std::string& op, const std::string& name, std::vector<Value*> ins,
                     std::vector<Value*> outs) {
  auto n = std::make_unique<Node>();
  n->op = op;
  n->name = name;
  n->inputs = std::move(ins);
  n->outputs = std::move(outs);
  for (Value* o : n->outputs) o->producer = n.get();
  Node* raw = n.get();
  nodes_.push_back(std::move(n));
  return raw;
}

Value* Graph::findValue(const std::string& name) const {
  auto it = byName_.find(name);
  return it == byName_.end() ? nullptr : it->second;
}

std::string Graph::uniqueName(const std::string& base) const {
  if (!base.empty() && !byName_.count(base)) return base;
  std::string stem = base.empty() ? "t" : base;
  for (int i = 1;; ++i) {
    std::string candidate = strCat(stem, "_", i);
    if (!byName_.count(candidate)) return candidate;
  }
}

std::vector<Node*> Graph::nodeList() const {
  std::vector<Node*> out;
  out.reserve(nodes_.size());
  for (auto& n : nodes_) out.push_back(n.get());
  return out;
}

std::vector<Node*> Graph::consumers(const Value* v) const {
  std::vector<Node*> out;
  for (auto& n : nodes_)
    for (Value* in : n->inputs)
      if (in == v) {
        out.push_back(n.get());
        break;
      }
  return out;
}

bool Graph::isGraphOutput(const Value* v) const {
  return std::find(outputs.begin(), outputs.end(), v) != outputs.end();
}
bool Graph::isGraphInput(const Value* v) const {
  return std::find(inputs.begin(), inputs.end(), v) != inputs.end();
}

void Graph::removeNode(Node* node) {
  for (Value* o : node->outputs)
    if (o->producer == node) o->producer = nullptr;
  nodes_.erase(std::remove_if(nodes_.begin(), nodes_.end(), [&](auto& n) { return n.get() == node; }),
               nodes_.end());
}

void Graph::replaceAllUses(Value* from, Value* to) {
  for (auto& n : nodes_)
    for (Value*& in : n->inputs)
      if (in == from) in = to;
  for (Value*& o : outputs)
    if (o == from) o = to;
}

std::string Graph::rename(Value* v, const std::string& name) {
  byName_.erase(v->name);
  v->name = uniqueName(name);
  byName_[v->name] = v;
  return v->name;
}

void Graph::topoSort() {
  std::unordered_map<const Value*, Node*> producer;
  for (auto& n : nodes_)
    for (Value* o : n->outputs) producer[o] = n.get();
  std::unordered_map<Node*, int> state;  // 0 new, 1 visiting, 2 done
  std::vector<std::unique_ptr<Node>> sorted;
  std::unordered_map<Node*, std::unique_ptr<Node>*> owner;
  for (auto& n : nodes_) owner[n.get()] = &n;
  // Iterative DFS keeps deep graphs (thousands of nodes) off the call stack.
  std::vector<Node*> roots = nodeList();  // nodes_ entries are moved out as they are placed
  for (Node* root : roots) {
    if (state[root]) continue;
    std::vector<std::pair<Node*, std::size_t>> stack{{root, 0}};
    state[root] = 1;
    while (!stack.empty()) {
      auto& [node, next] = stack.back();
      if (next < node->inputs.size()) {
        Value* in = node->inputs[next++];
        auto it = in ? producer.find(in) : producer.end();
        if (it == producer.end()) continue;
        int& s = state[it->second];
        if (s == 1) fail("graph has a cycle through ", it->second->describe());
        if (s == 0) {
          s = 1;
          stack.push_back({it->second, 0});
        }
        continue;
      }
      state[node] = 2;
      sorted.push_back(std::move(*owner[node]));
      stack.pop_back();
    }
  }
  nodes_ = std::move(sorted);
}

void Graph::removeUnusedValues() {
  std::unordered_set<const Value*> used(inputs.begin(), inputs.end());
  used.insert(outputs.begin(), outputs.end());
  for (auto& n : nodes_) {
    used.insert(n->inputs.begin(), n->inputs.end());
    used.insert(n->outputs.begin(), n->outputs.end());
  }
  std::vector<std::unique_ptr<Value>> kept;
  for (auto& v : values_) {
    if (used.count(v.get())) {
      kept.push_back(std::move(v));
    } else {
      byName_.erase(v->name);
    }
  }
  values_ = std::move(kept);
}

}  // namespace kiln::ir
