#include <gtest/gtest.h>

#include "passes/passes.h"
#include "unit/passes/graph_eval.h"

namespace kiln::passes {
namespace {

using testing::Net;
using testing::opList;
using testing::randomTensor;

bool run(ir::Graph& g) {
  PassContext ctx;
  return fuseGelu(g, ctx);
}

template <typename Build>
std::unique_ptr<ir::Graph> fuseAndCompare(Build&& build, bool expectChange = true) {
  return testing::checkSameOutputs(
      build, [&](ir::Graph& g) { EXPECT_EQ(run(g), expectChange); }, {{"x", randomTensor({2, 3, 37}, 4, -6.f, 6.f)}},
      2e-5f);
}

// x * 0.5 * a in the three orders exporters write; `a` = 1 + f(..).
ir::Value* tail(Net& n, ir::Value* x, ir::Value* a, int order) {
  if (order == 0) return n.node("Mul", {n.node("Mul", {x, a}), n.scalar("half", 0.5f)});
  if (order == 1) return n.node("Mul", {n.node("Mul", {x, n.scalar("half", 0.5f)}), a});
  return n.node("Mul", {x, n.node("Mul", {a, n.scalar("half", 0.5f)})});
}

TEST(FuseGelu, ErfFormInEveryOrder) {
  for (int order = 0; order < 3; ++order) {
    for (bool byMul : {false, true}) {
      SCOPED_TRACE(std::to_string(order) + (byMul ? " mul" : " div"));
      auto build = [&] {
        Net n;
        ir::Value* x = n.node("Relu", {n.input("x", {2, 3, 37})});  // x has other readers too
        ir::Value* s = byMul ? n.node("Mul", {n.scalar("r", 0.70710678f), x})
                             : n.node("Div", {x, n.scalar("sqrt2", 1.4142135f)});
        ir::Value* a = n.node("Add", {n.node("Erf", {s}), n.scalar("one", 1.f)});
        n.output(tail(n, x, a, order));
        n.output(x);
        return std::move(n.g);
      };
      auto g = fuseAndCompare(build);
      EXPECT_EQ(opList(*g), (std::vector<std::string>{"Relu", "Gelu"}));
    }
  }
}

TEST(FuseGelu, TanhForm) {
  for (int order = 0; order < 3; ++order) {
    for (bool xFirst : {true, false}) {
      auto build = [&] {
        Net n;
        ir::Value* x = n.input("x", {2, 3, 37});
        ir::Value* cube = n.node("Mul", {n.node("Pow", {x, n.scalar("three", 3.f)}), n.scalar("k", 0.044715f)});
        ir::Value* u = xFirst ? n.node("Add", {x, cube}) : n.node("Add", {cube, x});
        ir::Value* t = n.node("Tanh", {n.node("Mul", {u, n.scalar("c", 0.7978845608f)})});
        n.output(tail(n, x, n.node("Add", {n.scalar("one", 1.f), t}), order));
        return std::move(n.g);
      };
      auto g = fuseAndCompare(build);
      ASSERT_EQ(opList(*g), std::vector<std::string>{"Gelu"});
      EXPECT_EQ(g->nodeList()[0]->s("approximate", ""), "tanh");
    }
  }
}

TEST(FuseGelu, LeavesNearMissesAlone) {
  // A wrong constant, an intermediate read elsewhere, and a different x in the product.
  auto wrongConstant = [] {
    Net n;
    ir::Value* x = n.input("x", {2, 3, 37});
    ir::Value* a = n.node("Add", {n.node("Erf", {n.node("Div", {x, n.scalar("two", 2.f)})}), n.scalar("one", 1.f)});
    n.output(tail(n, x, a, 0));
    return std::move(n.g);
  };
  fuseAndCompare(wrongConstant, false);
  auto sharedErf = [] {
    Net n;
    ir::Value* x = n.input("x", {2, 3, 37});
    ir::Value* e = n.node("Erf", {n.node("Div", {x, n.scalar("sqrt2", 1.4142135f)})});
    n.output(tail(n, x, n.node("Add", {e, n.scalar("one", 1.f)}), 1));
    n.output(e);
    return std::move(n.g);
  };
  fuseAndCompare(sharedErf, false);
  auto otherX = [] {
    Net n;
    ir::Value* x = n.input("x", {2, 3, 37});
    ir::Value* a = n.node("Add", {n.node("Erf", {n.node("Div", {x, n.scalar("sqrt2", 1.4142135f)})}), n.scalar("one", 1.f)});
    n.output(tail(n, n.node("Neg", {x}), a, 0));
    return std::move(n.g);
  };
  fuseAndCompare(otherX, false);
}

}  // namespace
}  // namespace kiln::passes
