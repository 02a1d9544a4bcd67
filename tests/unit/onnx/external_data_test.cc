// Initializers stored outside the model file (data_location EXTERNAL).
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include <unistd.h>

#include "onnx/importer.h"
#include "unit/onnx/onnx_model_builder.h"

namespace kiln::test {
namespace {

namespace fs = std::filesystem;

class OnnxExternalData : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           strCat("kiln_onnx_ext_", ::testing::UnitTest::GetInstance()->current_test_info()->name(), "_", ::getpid());
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  void writeFile(const std::string& name, const std::string& bytes) {
    std::ofstream(dir_ / name, std::ios::binary) << bytes;
  }

  //! A model y = x + w where w lives in `location` at `offset`.
  std::string model(const std::string& location, int64_t offset, int64_t length = -1) {
    OnnxModelBuilder b(13);
    b.input("x", TP::FLOAT, {4});
    TP w;
    w.set_name("w");
    w.set_data_type(TP::FLOAT);
    w.add_dims(4);
    w.set_data_location(TP::EXTERNAL);
    auto add = [&](const std::string& k, const std::string& v) {
      auto* e = w.add_external_data();
      e->set_key(k);
      e->set_value(v);
    };
    add("location", location);
    add("offset", std::to_string(offset));
    if (length >= 0) add("length", std::to_string(length));
    b.initializer(w);
    b.node("Add", {"x", "w"}, {"y"});
    b.output("y");
    return b.bytes();
  }

  fs::path dir_;
};

const std::vector<float> kWeights = {1.5f, -2.f, 3.25f, 4.f};

std::string weightBytes(std::size_t padding) {
  std::string s(padding, '\x7f');
  s.append(reinterpret_cast<const char*>(kWeights.data()), kWeights.size() * sizeof(float));
  return s;
}

TEST_F(OnnxExternalData, LoadsFromSideFileAtOffset) {
  writeFile("weights.bin", weightBytes(12));
  ir::Graph g;
  auto r = importBytes(model("weights.bin", 12, 16), g, dir_.string());
  ASSERT_TRUE(r.ok) << errorText(r);
  const ir::Value* w = g.findValue("w");
  ASSERT_TRUE(w && w->isConstant());
  EXPECT_EQ(w->constant->toFloat(), kWeights);
}

TEST_F(OnnxExternalData, SubdirectoryAndNoLength) {
  fs::create_directories(dir_ / "data");
  writeFile("data/w.bin", weightBytes(0));
  ir::Graph g;
  auto r = importBytes(model("data/w.bin", 0), g, dir_.string());
  ASSERT_TRUE(r.ok) << errorText(r);
  EXPECT_EQ(g.findValue("w")->constant->toFloat(), kWeights);
}

TEST_F(OnnxExternalData, MissingFileNamesTensorAndPath) {
  ir::Graph g;
  auto r = importBytes(model("nowhere.bin", 0), g, dir_.string());
  ASSERT_FALSE(r.ok);
  ASSERT_EQ(r.errors.size(), 1u);
  const std::string& d = r.errors[0].desc;
  EXPECT_NE(d.find("\"w\""), std::string::npos) << d;
  EXPECT_NE(d.find((dir_ / "nowhere.bin").string()), std::string::npos) << d;
  EXPECT_EQ(r.errors[0].code, onnx::ErrorCode::kINVALID_VALUE);
}

TEST_F(OnnxExternalData, FileTooShort) {
  writeFile("short.bin", weightBytes(0).substr(0, 10));
  ir::Graph g;
  auto r = importBytes(model("short.bin", 0), g, dir_.string());
  ASSERT_FALSE(r.ok);
  EXPECT_NE(r.errors[0].desc.find("short.bin"), std::string::npos) << errorText(r);
}

TEST_F(OnnxExternalData, WrongLength) {
  writeFile("w.bin", weightBytes(0));
  ir::Graph g;
  auto r = importBytes(model("w.bin", 0, 12), g, dir_.string());
  ASSERT_FALSE(r.ok);
  EXPECT_NE(r.errors[0].desc.find("length 12"), std::string::npos) << errorText(r);
}

TEST_F(OnnxExternalData, LocationMayNotLeaveTheModelDir) {
  for (const std::string loc : {"../w.bin", "/etc/passwd", "a/../../w.bin"}) {
    ir::Graph g;
    auto r = importBytes(model(loc, 0), g, dir_.string());
    ASSERT_FALSE(r.ok) << loc;
    EXPECT_NE(r.errors[0].desc.find(loc), std::string::npos) << errorText(r);
  }
}

}  // namespace
}  // namespace kiln::test
