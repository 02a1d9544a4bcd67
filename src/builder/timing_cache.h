// The timing cache: which tactic won for a node signature on a device, so a
// second build (or a build of another model with the same layers) skips
// timing. Keyed as docs/architecture.md says: op + attributes + input/output
// shapes and dtypes + device ISA. Serialized as JSON.
#pragma once
#include <map>
#include <mutex>
#include <optional>
#include <string>

#include "ir/graph.h"

namespace kiln::builder {

struct TimingEntry {
  std::string tactic;
  double ms = 0;
};

class TimingCache {
 public:
  std::optional<TimingEntry> find(const std::string& key) const;
  void put(const std::string& key, TimingEntry entry);
  std::size_t size() const;
  void clear();
  //! Merges `other` into this cache (entries of `other` win).
  void merge(const TimingCache& other);

  std::string serialize() const;
  //! Throws kiln::Error on text that is not a Kiln timing cache.
  static TimingCache deserialize(const std::string& text);

  //! The cache key of `node` on device `isa`.
  static std::string keyOf(const ir::Node& node, const std::string& isa);

  TimingCache() = default;
  TimingCache(const TimingCache& other);
  TimingCache& operator=(const TimingCache& other);

 private:
  mutable std::mutex mu_;
  std::map<std::string, TimingEntry> entries_;
};

}  // namespace kiln::builder
