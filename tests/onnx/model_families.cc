#include "model_families.h"

#include <cstdio>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include <nlohmann/json.hpp>

namespace kiln_conformance {

namespace {

std::string cell(const nlohmann::json& rec, const char* key) {
  if (!rec.contains(key) || rec[key].is_null()) return "";
  const nlohmann::json& v = rec[key];
  if (v.is_string()) {
    std::string s = v.get<std::string>();
    for (char& c : s)
      if (c == '|' || c == '\n') c = ' ';  // a table cell is one line without pipes
    return s;
  }
  if (v.is_number_float()) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.2g", v.get<double>());
    return buf;
  }
  return v.dump();
}

}  // namespace

std::string renderModelFamilies(const std::string& path) {
  std::ostringstream os;
  os << "## Model families\n\n";
  std::ifstream in(path);
  if (!in) {
    os << "No record yet: `tests/models/model_families.py --results tests/models/model_families.json` writes it "
          "where PyTorch is installed.\n";
    return os.str();
  }
  nlohmann::json doc;
  try {
    doc = nlohmann::json::parse(in);
  } catch (const std::exception& e) {
    throw std::runtime_error(path + ": not valid JSON: " + e.what());
  }
  if (!doc.contains("models") || !doc["models"].is_array()) throw std::runtime_error(path + ": no \"models\" array");
  std::string versions;
  if (doc.contains("versions") && doc["versions"].is_object())
    for (auto& [k, v] : doc["versions"].items()) versions += (versions.empty() ? "" : ", ") + k + " " + cell(doc["versions"], k.c_str());
  int pass = 0;
  for (const nlohmann::json& r : doc["models"]) pass += r.value("status", "") == "pass";
  os << "Exported with PyTorch (random weights, fixed seed) by `tests/models/model_families.py`, built and run by "
        "Kiln on the CPU (built engine and reloaded plan), compared with ONNX Runtime; pass: max abs error <= 1e-3 x "
        "the output's range. Runs outside CI (it needs PyTorch). "
     << pass << " of " << doc["models"].size() << " pass.\n\n"
     << "- Date: " << cell(doc, "date") << "; Kiln " << cell(doc, "kiln") << "; " << versions << ".\n"
     << "- Command: `" << cell(doc, "command") << "`\n\n"
     << "| model | from | opset | nodes | status | max error / range | what blocks it |\n"
     << "|---|---|---:|---:|---|---:|---|\n";
  for (const nlohmann::json& r : doc["models"])
    os << "| " << cell(r, "model") << " | " << cell(r, "family") << " | " << cell(r, "opset") << " | "
       << cell(r, "nodes") << " | " << cell(r, "status") << " | " << cell(r, "max_rel_err") << " | "
       << cell(r, "detail") << " |\n";
  return os.str();
}

}  // namespace kiln_conformance
