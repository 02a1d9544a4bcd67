// A stand-in DeviceBackend for builder tests: a GPU that is there (or not),
// the tactics a test gives it, and no memory or streams. Tests derive from it
// to add tactics, a timer (timeEnqueue) or libraries.
#pragma once
#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "backends/backend.h"

namespace kiln::builder::test {

class FakeDeviceBackend : public backends::DeviceBackend {
 public:
  explicit FakeDeviceBackend(bool gpu = true, const char* arch = "sm_42") {
    host_.available = gpu;
    host_.unavailable = gpu ? "" : "the fake has no GPU";
    host_.target = {"cuda", arch, "Fake GPU", 13000, 92600, 130100};
  }
  const char* device() const override { return "cuda"; }
  const backends::HostDevice& host() const override { return host_; }
  //! The tactics for `op`, highest priority first (registration order among equals).
  std::vector<const backends::DeviceTactic*> tacticsFor(const std::string& op) const override {
    std::vector<const backends::DeviceTactic*> out;
    for (const auto& t : tactics_)
      if (t.op == op) out.push_back(&t);
    std::stable_sort(out.begin(), out.end(), [](auto* a, auto* b) { return a->priority > b->priority; });
    return out;
  }
  const backends::DeviceTactic* findTactic(const std::string& name) const override {
    for (const auto& t : tactics_)
      if (t.name == name) return &t;
    return nullptr;
  }
  std::shared_ptr<void> allocate(std::size_t) const override { return nullptr; }
  void copyAsync(void*, const void*, std::size_t, backends::CopyKind, void*) const override {}
  void synchronize(void*) const override {}
  std::shared_ptr<void> createLibraries() const override { return nullptr; }

 protected:
  backends::HostDevice host_;
  std::vector<backends::DeviceTactic> tactics_;
};

}  // namespace kiln::builder::test
