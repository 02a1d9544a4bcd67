// Python-side handles on a network and on the tensors and layers it owns.
#pragma once
#include <map>
#include <utility>

#include "common.h"

namespace kiln::py {

//! A network and what it needs: the logger it logs through (declared first, so
//! it is destroyed last) and the values of write-only layer settings, which the
//! C++ API has no getter for.
struct NetState {
  LoggerPtr log;
  std::unique_ptr<INetworkDefinition> net;
  std::map<std::pair<const void*, std::string>, std::vector<int64_t>> remembered;

  const std::vector<int64_t>* recall(const void* layer, const char* key) const {
    auto it = remembered.find({layer, key});
    return it == remembered.end() ? nullptr : &it->second;
  }
  void remember(const void* layer, const char* key, std::vector<int64_t> v) { remembered[{layer, key}] = std::move(v); }
};
using NetPtr = std::shared_ptr<NetState>;

//! kiln.INetworkDefinition.
struct PyNetwork {
  Held<NetState> st;
  INetworkDefinition* get() const { return st.get()->net.get(); }
};

//! kiln.ITensor: a tensor of a network (keeps the network alive).
struct PyTensor {
  NetPtr st;
  ITensor* t;
};

//! kiln.ILayer; the typed layer classes add no state, only a checked cast.
struct PyLayer {
  NetPtr st;
  ILayer* l;
};
template <class I>
struct PyTyped : PyLayer {
  I* typed() const {
    I* p = dynamic_cast<I*>(l);
    if (!p) typeError(std::string("layer \"") + l->getName() + "\" is not of this layer class");
    return p;
  }
};

nb::object wrapLayer(const NetPtr& st, ILayer* layer);
void bindLayers(nb::module_& m);
void bindNetworkAdders(nb::class_<PyNetwork>& cls);

}  // namespace kiln::py
