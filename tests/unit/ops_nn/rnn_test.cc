// RNN, GRU, LSTM reference kernels on one-unit cases computed by hand (Affine
// activations make every gate a linear function), covering what ONNX's own
// cases don't: bidirectional and reverse, sequence_lens, clip, layout 1
// against layout 0, linear_before_reset, input_forget with peepholes, and
// activation_alpha/beta. The ONNX node cases (test_*rnn*, test_gru_*,
// test_lstm_*) check the default activations.
#include "unit/ops_nn/op_test_util.h"

namespace kiln::test {
namespace {

using Strings = std::vector<std::string>;

std::vector<float> values(const ir::Tensor& t) { return t.toFloat(); }

void expectValues(const ir::Tensor& t, const std::vector<int64_t>& dims, const std::vector<float>& want,
                  const char* what) {
  EXPECT_EQ(t.dims(), dims) << what;
  std::vector<float> got = values(t);
  ASSERT_EQ(got.size(), want.size()) << what;
  for (std::size_t i = 0; i < got.size(); ++i) EXPECT_NEAR(got[i], want[i], 1e-5f) << what << "[" << i << "]";
}

OpSpec scalarRnn(std::vector<float> xs, float w, float r, std::map<std::string, ir::Attribute> attrs) {
  OpSpec s;
  s.op = "RNN";
  s.attrs = std::move(attrs);
  s.attrs["hidden_size"] = int64_t{1};
  int64_t seq = static_cast<int64_t>(xs.size());
  s.inputs = {dyn(floats({seq, 1, 1}, xs)), cst(floats({1, 1, 1}, {w})), cst(floats({1, 1, 1}, {r}))};
  s.numOutputs = 2;
  return s;
}

TEST(RnnRef, AffineRecurrenceByHand) {
  // f(v) = 2v + 1 over v = 0.5x + 0.25h + (0.1 + 0.2): h_t = x + 0.5 h + 1.6.
  OpSpec s = scalarRnn({1, 2, 3}, 0.5f, 0.25f,
                       {{"activations", Strings{"Affine"}}, {"activation_alpha", std::vector<float>{2.f}},
                        {"activation_beta", std::vector<float>{1.f}}});
  s.inputs.push_back(cst(floats({1, 2}, {0.1f, 0.2f})));
  auto out = runTactic(s, "RNN.ref");
  expectValues(out[0], {3, 1, 1, 1}, {2.6f, 4.9f, 7.05f}, "Y");
  expectValues(out[1], {1, 1, 1}, {7.05f}, "Y_h");
}

TEST(RnnRef, BidirectionalWithSequenceLens) {
  // f = identity, W = R = 1: each direction is a running sum over the valid steps.
  OpSpec s;
  s.op = "RNN";
  s.attrs = {{"hidden_size", int64_t{1}},
             {"direction", std::string("bidirectional")},
             {"activations", Strings{"Affine", "Affine"}},
             {"activation_alpha", std::vector<float>{1.f, 1.f}},
             {"activation_beta", std::vector<float>{0.f, 0.f}}};
  s.inputs = {dyn(floats({3, 2, 1}, {1, 10, 2, 20, 3, 30})), cst(floats({2, 1, 1}, {1, 1})),
              cst(floats({2, 1, 1}, {1, 1})), none(), dyn(ints({2}, {3, 2}).castTo(DType::kINT32))};
  s.numOutputs = 2;
  auto out = runTactic(s, "RNN.ref");
  // Y [seq, dirs, batch, 1]: batch 1 stops after 2 steps (zeros past it); reverse starts at its last valid step.
  expectValues(out[0], {3, 2, 2, 1}, {1, 10, 6, 30, 3, 30, 5, 20, 6, 0, 3, 0}, "Y");
  expectValues(out[1], {2, 2, 1}, {6, 30, 6, 30}, "Y_h");
}

TEST(RnnRef, ReverseAndClip) {
  std::map<std::string, ir::Attribute> ident{{"activations", Strings{"Affine"}},
                                             {"activation_alpha", std::vector<float>{1.f}},
                                             {"activation_beta", std::vector<float>{0.f}}};
  auto attrs = ident;
  attrs["direction"] = std::string("reverse");
  expectValues(runTactic(scalarRnn({1, 2, 3}, 1, 1, attrs), "RNN.ref")[0], {3, 1, 1, 1}, {6, 5, 3}, "reverse");
  attrs = ident;
  attrs["clip"] = 4.f;  // on the activation's input: 1, 3, clip(6) = 4
  expectValues(runTactic(scalarRnn({1, 2, 3}, 1, 1, attrs), "RNN.ref")[0], {3, 1, 1, 1}, {1, 3, 4}, "clip");
}

TEST(RnnRef, AlphaAndBetaAreConsumedByTheFunctionsThatTakeThem) {
  std::map<std::string, ir::Attribute> attrs{{"activations", Strings{"HardSigmoid"}}};
  EXPECT_NEAR(values(runTactic(scalarRnn({1}, 1, 0, attrs), "RNN.ref")[0])[0], 0.7f, 1e-6f);  // defaults 0.2, 0.5
  attrs["activation_alpha"] = std::vector<float>{0.5f};
  attrs["activation_beta"] = std::vector<float>{0.25f};
  EXPECT_NEAR(values(runTactic(scalarRnn({1}, 1, 0, attrs), "RNN.ref")[0])[0], 0.75f, 1e-6f);
  attrs["activations"] = Strings{"NotAnActivation"};
  EXPECT_TRUE(throwsWith([&] { runTactic(scalarRnn({1}, 1, 0, attrs), "RNN.ref"); }, "activation 'NotAnActivation'"));
}

TEST(RnnRef, LayoutOneMatchesLayoutZero) {
  for (const char* op : {"RNN", "GRU", "LSTM"}) {
    const int64_t seq = 4, batch = 3, in = 5, H = 2, G = std::string(op) == "RNN" ? 1 : std::string(op) == "GRU" ? 3 : 4;
    ir::Tensor x = randomTensor({seq, batch, in}, 1);
    ir::Tensor xt(DType::kFLOAT, {batch, seq, in});
    for (int64_t t = 0; t < seq; ++t)
      for (int64_t b = 0; b < batch; ++b)
        for (int64_t i = 0; i < in; ++i)
          xt.mutableAs<float>()[(b * seq + t) * in + i] = x.as<float>()[(t * batch + b) * in + i];
    OpSpec s;
    s.op = op;
    s.attrs = {{"hidden_size", H}, {"direction", std::string("bidirectional")}};
    s.inputs = {dyn(x), cst(randomTensor({2, G * H, in}, 2)), cst(randomTensor({2, G * H, H}, 3)),
                cst(randomTensor({2, 2 * G * H}, 4))};
    s.numOutputs = 2;
    auto y0 = runTactic(s, std::string(op) + ".ref");
    s.attrs["layout"] = int64_t{1};
    s.inputs[0] = dyn(xt);
    auto y1 = runTactic(s, std::string(op) + ".ref");
    ASSERT_EQ(y1[0].dims(), (std::vector<int64_t>{batch, seq, 2, H})) << op;
    ASSERT_EQ(y1[1].dims(), (std::vector<int64_t>{batch, 2, H})) << op;
    for (int64_t t = 0; t < seq; ++t)
      for (int64_t d = 0; d < 2; ++d)
        for (int64_t b = 0; b < batch; ++b)
          for (int64_t k = 0; k < H; ++k)
            EXPECT_FLOAT_EQ(y1[0].as<float>()[((b * seq + t) * 2 + d) * H + k],
                            y0[0].as<float>()[((t * 2 + d) * batch + b) * H + k]) << op;
    for (int64_t d = 0; d < 2; ++d)
      for (int64_t b = 0; b < batch; ++b)
        for (int64_t k = 0; k < H; ++k)
          EXPECT_FLOAT_EQ(y1[1].as<float>()[(b * 2 + d) * H + k], y0[1].as<float>()[(d * batch + b) * H + k]) << op;
  }
}

TEST(GruRef, LinearBeforeResetByHand) {
  // f = g = identity; z = 0.625, r = 1.25; candidate 4.175 (r applied to h) or 4.225 (r applied to R h + Rb).
  for (int lbr : {0, 1}) {
    OpSpec s;
    s.op = "GRU";
    s.attrs = {{"hidden_size", int64_t{1}},
               {"linear_before_reset", int64_t{lbr}},
               {"activations", Strings{"Affine", "Affine"}},
               {"activation_alpha", std::vector<float>{1.f, 1.f}},
               {"activation_beta", std::vector<float>{0.f, 0.f}}};
    s.inputs = {dyn(floats({1, 1, 1}, {1})), cst(floats({1, 3, 1}, {0.5f, 1.f, 2.f})),
                cst(floats({1, 3, 1}, {0.25f, 0.5f, 3.f})), cst(floats({1, 6}, {0, 0, 0.1f, 0, 0, 0.2f})), none(),
                dyn(floats({1, 1, 1}, {0.5f}))};
    s.numOutputs = 2;
    auto out = runTactic(s, "GRU.ref");
    expectValues(out[1], {1, 1, 1}, {lbr ? 1.896875f : 1.878125f}, lbr ? "lbr 1" : "lbr 0");
  }
}

TEST(LstmRef, PeepholesAndInputForgetByHand) {
  for (int inputForget : {0, 1}) {
    OpSpec s;
    s.op = "LSTM";
    s.attrs = {{"hidden_size", int64_t{1}},
               {"input_forget", int64_t{inputForget}},
               {"activations", Strings{"Affine", "Affine", "Affine"}},
               {"activation_alpha", std::vector<float>{1.f, 1.f, 1.f}},
               {"activation_beta", std::vector<float>{0.f, 0.f, 0.f}}};
    s.inputs = {dyn(floats({1, 1, 1}, {2})), cst(floats({1, 4, 1}, {1, 0.5f, 2, 0.25f})),
                cst(floats({1, 4, 1}, {0.1f, 0.2f, 0.3f, 0.4f})), none(), none(), dyn(floats({1, 1, 1}, {1})),
                dyn(floats({1, 1, 1}, {2})), cst(floats({1, 3}, {0.5f, 0.25f, 1}))};
    s.numOutputs = 3;
    auto out = runTactic(s, "LSTM.ref");
    // i = 3.1; f = 1 - i or 6.3; c~ = 0.9; C = f c0 + i c~; o = 1.2 + 0.25 C; H = o C.
    float c = inputForget ? -1.41f : 15.39f;
    float h = (1.2f + 0.25f * c) * c;
    expectValues(out[0], {1, 1, 1, 1}, {h}, "Y");
    expectValues(out[1], {1, 1, 1}, {h}, "Y_h");
    expectValues(out[2], {1, 1, 1}, {c}, "Y_c");
  }
}

TEST(RnnSchema, ShapesAndErrors) {
  auto shapes = inferShapes({"LSTM", {{"hidden_size", int64_t{4}}, {"direction", std::string("bidirectional")}},
                             {{7, 3, 5}, {2, 16, 5}, {2, 16, 4}}},
                            "lstm");
  ASSERT_EQ(shapes.size(), 1u);
  EXPECT_EQ(ir::toString(shapes[0]), "[7,2,3,4]");
  EXPECT_TRUE(throwsWith([] { inferShapes({"GRU", {{"direction", std::string("sideways")}}, {{7, 3, 5}, {1, 12, 5}, {1, 12, 4}}}, "gru"); },
                         "direction must be forward, reverse or bidirectional"));
  EXPECT_TRUE(throwsWith([] { inferShapes({"RNN", {{"hidden_size", int64_t{4}}}, {{7, 3, 5}, {1, 4, 6}, {1, 4, 4}}}, "rnn"); },
                         "X has input size 5 but W expects 6"));
}

}  // namespace
}  // namespace kiln::test
