// The built-in plugins (initLibKilnPlugins): EfficientNMS_TRT and ROIAlign_TRT
// found by the ONNX parser for nodes of those op types, built into a plan,
// reloaded and run, checked against values computed by hand and against the
// ONNX RoiAlign op (which shares ROIAlign_TRT's core).
#include <cmath>
#include <cstring>

#include "unit/onnx/onnx_model_builder.h"
#include "unit/plugins/plugin_test_util.h"

namespace kiln::test {
namespace {

class BuiltinPlugins : public PluginTest {
 protected:
  void SetUp() override {
    PluginTest::SetUp();
    ASSERT_TRUE(initLibKilnPlugins(&logger_, ""));
  }
  //! Parses, builds and runs `model` once; false (with the reason in the logger) on failure.
  bool run(const OnnxModelBuilder& model, const std::map<std::string, void*>& buffers) {
    std::unique_ptr<IBuilder> builder(createInferBuilder(logger_));
    std::unique_ptr<INetworkDefinition> network(builder->createNetworkV2(0));
    std::unique_ptr<onnx::IParser> parser(onnx::createParser(*network, logger_));
    std::string bytes = model.bytes();
    if (!parser->parse(bytes.data(), bytes.size())) {
      for (int i = 0; i < parser->getNbErrors(); ++i) parseErrors += std::string(parser->getError(i)->desc()) + "\n";
      return false;
    }
    std::unique_ptr<IHostMemory> plan = buildNetwork(*builder, *network);
    return plan && runPlan(logger_, plan->data(), plan->size(), buffers);
  }
  std::string parseErrors;
};

TEST_F(BuiltinPlugins, RegisteredOncePerNamespace) {
  IPluginRegistry* r = getPluginRegistry();
  EXPECT_NE(r->getCreator("EfficientNMS_TRT", "1", ""), nullptr);
  EXPECT_NE(r->getCreator("ROIAlign_TRT", "1", ""), nullptr);
  EXPECT_TRUE(initLibKilnPlugins(&logger_, ""));  // again: nothing changes
  EXPECT_EQ(r->getCreator("EfficientNMS_TRT", "1", "detect"), nullptr);
  EXPECT_TRUE(initLibKilnPlugins(nullptr, "detect"));
  EXPECT_NE(r->getCreator("EfficientNMS_TRT", "1", "detect"), nullptr);
  EXPECT_STREQ(static_cast<IPluginCreatorV3One*>(r->getCreator("ROIAlign_TRT", "1", "detect"))->getPluginNamespace(),
               "detect");
}

//! boxes [2, 4, 4] ([x1, y1, x2, y2]), scores [2, 4, 2] -> EfficientNMS_TRT's four outputs.
//! With `anchors` dims, a third input of that shape; class_agnostic as given.
OnnxModelBuilder nmsModel(int64_t backgroundClass, int64_t boxCoding, int64_t classAgnostic = 0,
                          std::vector<int64_t> anchors = {}) {
  OnnxModelBuilder m(13);
  m.input("boxes", TP::FLOAT, {2, 4, 4});
  m.input("scores", TP::FLOAT, {2, 4, 2});
  std::vector<std::string> inputs{"boxes", "scores"};
  if (!anchors.empty()) {
    m.input("anchors", TP::FLOAT, std::vector<DimSpec>(anchors.begin(), anchors.end()));
    inputs.push_back("anchors");
  }
  auto* n = m.node("EfficientNMS_TRT", inputs,
                   {"num_detections", "detection_boxes", "detection_scores", "detection_classes"}, "nms");
  setAttr(n, "class_agnostic", classAgnostic);
  setAttr(n, "score_threshold", 0.2f);
  setAttr(n, "iou_threshold", 0.5f);
  setAttr(n, "max_output_boxes", int64_t{3});
  setAttr(n, "background_class", backgroundClass);
  setAttr(n, "box_coding", boxCoding);
  setAttr(n, "plugin_version", "1");
  m.output("num_detections", TP::INT32).output("detection_boxes").output("detection_scores");
  m.output("detection_classes", TP::INT32);
  return m;
}

struct NmsBuffers {
  // Image 0: box 1 overlaps box 0 (IoU 0.68) and box 3 (0.61); box 3 overlaps box 0 (0.9).
  float boxes[32] = {0, 0, 10, 10, 1, 1, 11, 11, 20, 20, 30, 30, 0, 0, 10, 9,
                     // Image 1: one box above the threshold, in class 0.
                     5, 5, 6, 6, 0, 0, 1, 1, 0, 0, 2, 2, 0, 0, 3, 3};
  float scores[16] = {0.9f, 0.1f, 0.8f, 0.7f, 0.3f, 0.6f, 0.05f, 0.95f, 0.5f, 0.1f, 0, 0, 0, 0, 0, 0};
  int32_t num[2] = {-1, -1};
  float outBoxes[24], outScores[6];
  int32_t classes[6];
  NmsBuffers() {
    std::fill(outBoxes, outBoxes + 24, -1.f);
    std::fill(outScores, outScores + 6, -1.f);
    std::fill(classes, classes + 6, -1);
  }
  std::map<std::string, void*> map() {
    return {{"boxes", boxes}, {"scores", scores}, {"num_detections", num}, {"detection_boxes", outBoxes},
            {"detection_scores", outScores}, {"detection_classes", classes}};
  }
};

TEST_F(BuiltinPlugins, EfficientNmsKeepsTheBestBoxesPerClassAcrossTheImage) {
  NmsBuffers b;
  ASSERT_TRUE(run(nmsModel(-1, 0), b.map())) << parseErrors << logger_.all();
  // Class 0 keeps boxes 0 (0.9) and 2 (0.3); class 1 keeps 3 (0.95) and 2 (0.6): the best three by score.
  EXPECT_EQ(b.num[0], 3);
  EXPECT_EQ(std::vector<float>(b.outScores, b.outScores + 3), (std::vector<float>{0.95f, 0.9f, 0.6f}));
  EXPECT_EQ(std::vector<int32_t>(b.classes, b.classes + 3), (std::vector<int32_t>{1, 0, 1}));
  EXPECT_EQ(std::vector<float>(b.outBoxes, b.outBoxes + 12),
            (std::vector<float>{0, 0, 10, 9, 0, 0, 10, 10, 20, 20, 30, 30}));
  // Image 1: one detection; the rest of its rows are zero.
  EXPECT_EQ(b.num[1], 1);
  EXPECT_EQ(std::vector<float>(b.outBoxes + 12, b.outBoxes + 24),
            (std::vector<float>{5, 5, 6, 6, 0, 0, 0, 0, 0, 0, 0, 0}));
  EXPECT_EQ(std::vector<float>(b.outScores + 3, b.outScores + 6), (std::vector<float>{0.5f, 0, 0}));
  EXPECT_EQ(std::vector<int32_t>(b.classes + 3, b.classes + 6), (std::vector<int32_t>{0, 0, 0}));
}

TEST_F(BuiltinPlugins, EfficientNmsSkipsTheBackgroundClassAndDecodesCenterSizeBoxes) {
  NmsBuffers b;
  ASSERT_TRUE(run(nmsModel(1, 0), b.map())) << parseErrors << logger_.all();
  EXPECT_EQ(b.num[0], 2);
  EXPECT_EQ(std::vector<int32_t>(b.classes, b.classes + 3), (std::vector<int32_t>{0, 0, 0}));
  EXPECT_EQ(std::vector<float>(b.outScores, b.outScores + 3), (std::vector<float>{0.9f, 0.3f, 0}));
  // box_coding 1: [x, y, w, h] in, corners out.
  NmsBuffers c;
  float centered[16] = {5, 5, 10, 10, 50, 50, 2, 4, 0, 0, 0, 0, 0, 0, 0, 0};
  std::memcpy(c.boxes, centered, sizeof(centered));
  ASSERT_TRUE(run(nmsModel(-1, 1), c.map())) << parseErrors << logger_.all();
  EXPECT_EQ(c.num[0], 3);
  EXPECT_EQ(std::vector<float>(c.outBoxes, c.outBoxes + 8), (std::vector<float>{0, 0, 0, 0, 0, 0, 10, 10}));
}

TEST_F(BuiltinPlugins, EfficientNmsClassAgnosticLetsClassesSuppressEachOther) {
  NmsBuffers b;
  ASSERT_TRUE(run(nmsModel(-1, 0, 1), b.map())) << parseErrors << logger_.all();
  // Candidates by score: (box 3, class 1) 0.95 is kept and suppresses boxes 0 and 1 of either class
  // (IoU 0.9, 0.61); (box 2, class 1) 0.6 is kept and suppresses its own class-0 candidate (IoU 1).
  EXPECT_EQ(b.num[0], 2);
  EXPECT_EQ(std::vector<float>(b.outScores, b.outScores + 3), (std::vector<float>{0.95f, 0.6f, 0}));
  EXPECT_EQ(std::vector<int32_t>(b.classes, b.classes + 3), (std::vector<int32_t>{1, 1, 0}));
  EXPECT_EQ(std::vector<float>(b.outBoxes, b.outBoxes + 12),
            (std::vector<float>{0, 0, 10, 9, 20, 20, 30, 30, 0, 0, 0, 0}));
  EXPECT_EQ(b.num[1], 1);
  EXPECT_EQ(b.outScores[3], 0.5f);
}

TEST_F(BuiltinPlugins, EfficientNmsDecodesBoxesAgainstAnchors) {
  // Corner coding: deltas + anchors; shared anchors [1, N, 4] give the plain run's outputs.
  NmsBuffers plain, coded;
  ASSERT_TRUE(run(nmsModel(-1, 0), plain.map())) << parseErrors << logger_.all();
  float anchors[16] = {1, 2, 3, 4, -1, 0, 2, 5, 0.5f, 0.25f, 1, 2, 3, 3, 3, 3};
  for (int i = 0; i < 32; ++i) coded.boxes[i] = plain.boxes[i] - anchors[i % 16];
  std::map<std::string, void*> buffers = coded.map();
  buffers["anchors"] = anchors;
  ASSERT_TRUE(run(nmsModel(-1, 0, 0, {1, 4, 4}), buffers)) << parseErrors << logger_.all();
  EXPECT_EQ(std::vector<int32_t>(coded.num, coded.num + 2), std::vector<int32_t>(plain.num, plain.num + 2));
  EXPECT_EQ(std::vector<float>(coded.outBoxes, coded.outBoxes + 24), std::vector<float>(plain.outBoxes, plain.outBoxes + 24));
  EXPECT_EQ(std::vector<float>(coded.outScores, coded.outScores + 6), std::vector<float>(plain.outScores, plain.outScores + 6));

  // Center-size coding, anchors per image [B, N, 4]: x = dx * aw + ax, w = aw * exp(dw).
  NmsBuffers centered;
  float perImage[32], deltas[32];
  for (int i = 0; i < 8; ++i) {
    float* a = perImage + i * 4;
    a[0] = 3.0f + i, a[1] = 2.0f * i, a[2] = 4.0f + i % 3, a[3] = 2.0f + i % 2;
    float* d = deltas + i * 4;
    d[0] = 0.25f * (i % 3), d[1] = -0.5f, d[2] = 0.1f * i, d[3] = -0.2f;
    float* box = centered.boxes + i * 4;  // the decoded box, as the plugin must compute it
    box[0] = d[0] * a[2] + a[0], box[1] = d[1] * a[3] + a[1], box[2] = a[2] * std::exp(d[2]), box[3] = a[3] * std::exp(d[3]);
  }
  ASSERT_TRUE(run(nmsModel(-1, 1), centered.map())) << parseErrors << logger_.all();
  NmsBuffers fromDeltas;
  std::memcpy(fromDeltas.boxes, deltas, sizeof deltas);
  buffers = fromDeltas.map();
  buffers["anchors"] = perImage;
  ASSERT_TRUE(run(nmsModel(-1, 1, 0, {2, 4, 4}), buffers)) << parseErrors << logger_.all();
  EXPECT_GT(centered.num[0], 0);
  EXPECT_EQ(std::vector<int32_t>(fromDeltas.num, fromDeltas.num + 2), std::vector<int32_t>(centered.num, centered.num + 2));
  EXPECT_EQ(std::vector<float>(fromDeltas.outBoxes, fromDeltas.outBoxes + 24),
            std::vector<float>(centered.outBoxes, centered.outBoxes + 24));
  EXPECT_EQ(std::vector<int32_t>(fromDeltas.classes, fromDeltas.classes + 6),
            std::vector<int32_t>(centered.classes, centered.classes + 6));
}

TEST_F(BuiltinPlugins, EfficientNmsAnchorsOfTheWrongShapeAreAClearError) {
  NmsBuffers b;
  float anchors[12] = {};
  std::map<std::string, void*> buffers = b.map();
  buffers["anchors"] = anchors;
  EXPECT_FALSE(run(nmsModel(-1, 0, 0, {1, 3, 4}), buffers));
  EXPECT_TRUE(logger_.saw("EfficientNMS_TRT")) << logger_.all() << parseErrors;
}

TEST_F(BuiltinPlugins, EfficientNmsBadFieldIsAClearError) {
  OnnxModelBuilder m = nmsModel(-1, 0);
  setAttr(m.graph()->mutable_node(0), "max_ouput_boxes", int64_t{3});  // misspelt
  NmsBuffers b;
  EXPECT_FALSE(run(m, b.map()));
  EXPECT_TRUE(logger_.saw("EfficientNMS_TRT: unknown field 'max_ouput_boxes'")) << logger_.all() << parseErrors;
}

TEST_F(BuiltinPlugins, RoiAlignPluginMatchesTheOnnxOpAndHandValues) {
  // X [1, 2, 4, 4]: channel 0 is 4i + j, channel 1 its negative; two ROIs.
  float x[32], rois[8] = {0, 0, 3, 3, 1, 0, 3, 2};
  for (int i = 0; i < 16; ++i) x[i] = static_cast<float>(i), x[16 + i] = -static_cast<float>(i);
  int32_t batch32[2] = {0, 0};
  float fromPlugin[2 * 2 * 2 * 2], fromOp[2 * 2 * 2 * 2];
  for (bool plugin : {true, false}) {
    OnnxModelBuilder m(16);
    m.input("x", TP::FLOAT, {1, 2, 4, 4});
    m.input("rois", TP::FLOAT, {2, 4});
    m.input("batch", plugin ? TP::INT32 : TP::INT64, {2});
    auto* n = m.node(plugin ? "ROIAlign_TRT" : "RoiAlign", {"x", "rois", "batch"}, {"y"}, "roi");
    setAttr(n, "output_height", int64_t{2});
    setAttr(n, "output_width", int64_t{2});
    setAttr(n, "sampling_ratio", int64_t{2});
    if (plugin) setAttr(n, "coordinate_transformation_mode", int64_t{0});
    else setAttr(n, "coordinate_transformation_mode", "output_half_pixel");
    m.output("y");
    int64_t batch64[2] = {0, 0};
    std::map<std::string, void*> buffers{{"x", x}, {"rois", rois}, {"y", plugin ? fromPlugin : fromOp}};
    buffers["batch"] = plugin ? static_cast<void*>(batch32) : static_cast<void*>(batch64);
    ASSERT_TRUE(run(m, buffers)) << parseErrors << logger_.all();
  }
  EXPECT_EQ(std::vector<float>(fromPlugin, fromPlugin + 16), std::vector<float>(fromOp, fromOp + 16));
  // ROI 0 [0, 0, 3, 3], bins of 1.5, samples at 0.375 and 1.125 of each bin: bin (0, 0)
  // averages the ramp at (y, x) in {0.375, 1.125}^2, i.e. 4 * 0.75 + 0.75 = 3.75.
  EXPECT_FLOAT_EQ(fromPlugin[0], 3.75f);
  EXPECT_FLOAT_EQ(fromPlugin[4], -3.75f);  // channel 1
}

}  // namespace
}  // namespace kiln::test
