#include "builder/timing_cache.h"

#include <nlohmann/json.hpp>
#include <sstream>

#include "core/error.h"

namespace kiln::builder {

TimingCache::TimingCache(const TimingCache& other) {
  std::lock_guard<std::mutex> lock(other.mu_);
  entries_ = other.entries_;
}

TimingCache& TimingCache::operator=(const TimingCache& other) {
  if (this == &other) return *this;
  std::map<std::string, TimingEntry> copy;
  {
    std::lock_guard<std::mutex> lock(other.mu_);
    copy = other.entries_;
  }
  std::lock_guard<std::mutex> lock(mu_);
  entries_ = std::move(copy);
  return *this;
}

std::optional<TimingEntry> TimingCache::find(const std::string& key) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = entries_.find(key);
  if (it == entries_.end()) return std::nullopt;
  return it->second;
}

void TimingCache::put(const std::string& key, TimingEntry entry) {
  std::lock_guard<std::mutex> lock(mu_);
  entries_[key] = std::move(entry);
}

std::size_t TimingCache::size() const {
  std::lock_guard<std::mutex> lock(mu_);
  return entries_.size();
}

void TimingCache::clear() {
  std::lock_guard<std::mutex> lock(mu_);
  entries_.clear();
}

void TimingCache::merge(const TimingCache& other) {
  TimingCache copy(other);
  std::lock_guard<std::mutex> lock(mu_);
  for (auto& [k, v] : copy.entries_) entries_[k] = v;
}

std::string TimingCache::serialize() const {
  nlohmann::json j;
  j["format"] = "kiln-timing-cache";
  j["version"] = 1;
  nlohmann::json entries = nlohmann::json::object();
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto& [k, v] : entries_) entries[k] = {{"tactic", v.tactic}, {"ms", v.ms}};
  }
  j["entries"] = std::move(entries);
  return j.dump(1);
}

TimingCache TimingCache::deserialize(const std::string& text) {
  nlohmann::json j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  KILN_CHECK(!j.is_discarded() && j.is_object(), "timing cache is not valid JSON");
  KILN_CHECK(j.value("format", "") == "kiln-timing-cache", "not a Kiln timing cache (format field)");
  KILN_CHECK(j.value("version", 0) == 1, "timing cache version ", j.value("version", 0),
             " is not supported (this Kiln reads version 1)");
  TimingCache cache;
  auto it = j.find("entries");
  KILN_CHECK(it != j.end() && it->is_object(), "timing cache has no entries object");
  for (auto& [k, v] : it->items()) {
    KILN_CHECK(v.is_object() && v.contains("tactic") && v["tactic"].is_string(), "timing cache entry '", k,
               "' is malformed");
    cache.entries_[k] = TimingEntry{v["tactic"].get<std::string>(), v.value("ms", 0.0)};
  }
  return cache;
}

static void appendAttr(std::ostringstream& os, const ir::Attribute& a) {
  std::visit(
      [&](const auto& v) {
        using T = std::decay_t<decltype(v)>;
        if constexpr (std::is_same_v<T, int64_t> || std::is_same_v<T, float> || std::is_same_v<T, std::string>) {
          os << v;
        } else if constexpr (std::is_same_v<T, ir::Tensor>) {
          os << "tensor" << ir::toString(v.dims());
        } else if constexpr (std::is_same_v<T, ir::GraphAttr>) {
          os << "graph(" << (v ? v->nodes().size() : 0) << " nodes)";
        } else {
          os << "[";
          for (const auto& x : v) os << x << ",";
          os << "]";
        }
      },
      a);
}

std::string TimingCache::keyOf(const ir::Node& node, const std::string& isa) {
  std::ostringstream os;
  os << isa << "|" << node.op << "|";
  for (auto& [name, a] : node.attrs) {
    os << name << "=";
    appendAttr(os, a);
    os << ";";
  }
  os << "|";
  for (const ir::Value* v : node.inputs) {
    if (!v) {
      os << "none;";
      continue;
    }
    os << dataTypeName(v->dtype) << ir::toString(v->shape) << (v->isConstant() ? "c" : "") << ";";
  }
  os << "->";
  for (const ir::Value* v : node.outputs) os << dataTypeName(v->dtype) << ir::toString(v->shape) << ";";
  return os.str();
}

}  // namespace kiln::builder
