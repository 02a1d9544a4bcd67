// timeCandidates (builder/tactic_selector.h) on scripted run times: no clock,
// so these check the method (interleaving, best round, cutoffs), not a machine.
#include <gtest/gtest.h>

#include <vector>

#include "builder/tactic_selector.h"

namespace kiln::builder {
namespace {

// Candidate c takes base[c] ms per run, plus `extra` ms on calls [from, to)
// (counted over all candidates): a burst of load from other work.
struct Script {
  std::vector<double> base;
  int from = 0, to = 0;
  double extra = 0;
  std::vector<int> calls;  // candidate of each call, in order
  double operator()(int c) {
    const int n = static_cast<int>(calls.size());
    calls.push_back(c);
    return base[c] + (n >= from && n < to ? extra : 0.0);
  }
  int callsOf(int c) const {
    int k = 0;
    for (int x : calls) k += x == c;
    return k;
  }
};

TEST(TacticTiming, BurstOfLoadDoesNotDecideTheRace) {
  // Candidate 0 is the faster (1.0 vs 1.4 ms); a burst lands on its runs of the
  // first round (calls 2..4 after the two warm-ups). Back-to-back medians
  // would have ranked it by that burst; its later rounds are clean.
  Script s{{1.0, 1.4}, 2, 5, 8.0, {}};
  std::vector<double> ms = timeCandidates(2, [&](int c) { return s(c); }, 7);
  ASSERT_EQ(ms.size(), 2u);
  EXPECT_DOUBLE_EQ(ms[0], 1.0);
  EXPECT_DOUBLE_EQ(ms[1], 1.4);
}

TEST(TacticTiming, RunsInterleavedRounds) {
  Script s{{1.0, 1.0, 1.0}, 0, 0, 0.0, {}};
  timeCandidates(3, [&](int c) { return s(c); }, 7);  // 3 rounds of ceil(7 / 3) = 3 runs
  const std::vector<int> round = {0, 0, 0, 1, 1, 1, 2, 2, 2};
  std::vector<int> want = {0, 1, 2};  // warm-ups
  for (int r = 0; r < 3; ++r) want.insert(want.end(), round.begin(), round.end());
  EXPECT_EQ(s.calls, want);
}

TEST(TacticTiming, FarSlowerCandidatesStopEarly) {
  // 1: 10x the fastest warm-up and over 20 ms: its warm-up only. 2: 4x (within
  // the warm-up cutoff), over 3x the best: two rounds only. 3: 10x, but 10 ms
  // (a burst of load could have made it so): timed, then dropped after two rounds.
  Script s{{3.0, 30.0, 12.0, 16.0}, 0, 0, 0.0, {}};
  std::vector<double> ms = timeCandidates(4, [&](int c) { return s(c); }, 7);
  EXPECT_EQ(s.callsOf(0), 1 + 9);
  EXPECT_EQ(s.callsOf(1), 1);
  EXPECT_EQ(s.callsOf(2), 1 + 6);
  EXPECT_EQ(s.callsOf(3), 1 + 6);
  EXPECT_DOUBLE_EQ(ms[0], 3.0);
  EXPECT_DOUBLE_EQ(ms[1], 30.0);
  EXPECT_DOUBLE_EQ(ms[2], 12.0);
}

TEST(TacticTiming, BurstOnAWarmUpDoesNotDropACandidate) {
  // Candidate 1's warm-up (call 1) gets 15 ms of load: 16 ms, 16x the fastest,
  // under the 20 ms floor: it is timed and wins.
  Script s{{1.2, 1.0}, 1, 2, 15.0, {}};
  std::vector<double> ms = timeCandidates(2, [&](int c) { return s(c); }, 7);
  EXPECT_DOUBLE_EQ(ms[1], 1.0);
  EXPECT_LT(ms[1], ms[0]);
}

TEST(TacticTiming, SlowCandidatesRunOncePerRound) {
  // 150 ms a run: 9 timed runs would be 1.35 s; one per round is enough to rank.
  Script s{{150.0, 160.0}, 0, 0, 0.0, {}};
  std::vector<double> ms = timeCandidates(2, [&](int c) { return s(c); }, 7);
  EXPECT_EQ(s.callsOf(0), 1 + 3);
  EXPECT_EQ(s.callsOf(1), 1 + 3);
  EXPECT_LT(ms[0], ms[1]);
}

TEST(TacticTiming, OneCandidateAndNoIterations) {
  Script s{{2.0}, 0, 0, 0.0, {}};
  std::vector<double> ms = timeCandidates(1, [&](int c) { return s(c); }, 0);  // 0 iterations: still one per round
  EXPECT_EQ(s.callsOf(0), 1 + 3);
  EXPECT_DOUBLE_EQ(ms[0], 2.0);
  EXPECT_TRUE(timeCandidates(0, [&](int c) { return s(c); }, 7).empty());
}

}  // namespace
}  // namespace kiln::builder
