// The device target a CUDA plan is bound to (arch in `isa`, GPU name, CUDA
// runtime, cuDNN and cuBLASLt versions) survives the round trip; CPU plans
// leave it empty, as plans written before these fields existed read.
#include "plan_test_util.h"

namespace kiln::plan {
namespace {

using testing::AlignedBuffer;
using testing::samplePlan;

TEST(PlanDeviceTarget, CudaTargetRoundTrips) {
  PlanContents p = samplePlan();
  p.meta.device = "cuda";
  p.meta.isa = "sm_90";
  p.meta.deviceName = "NVIDIA H100 80GB HBM3";
  p.meta.cudaRuntimeVersion = 13000;
  p.meta.cudnnVersion = 92600;
  p.meta.cublasLtVersion = 130100;
  AlignedBuffer buf(writePlan(p));
  PlanContents q = buf.read();
  testing::expectSamePlan(p, q);
  EXPECT_EQ(q.meta.device, "cuda");
  EXPECT_EQ(q.meta.isa, "sm_90");
  EXPECT_EQ(q.meta.deviceName, "NVIDIA H100 80GB HBM3");
  EXPECT_EQ(q.meta.cudaRuntimeVersion, 13000);
  EXPECT_EQ(q.meta.cudnnVersion, 92600);
  EXPECT_EQ(q.meta.cublasLtVersion, 130100);
}

TEST(PlanDeviceTarget, CpuPlanHasNoCudaTarget) {
  PlanContents q = AlignedBuffer(writePlan(samplePlan())).read();
  EXPECT_EQ(q.meta.device, "cpu");
  EXPECT_EQ(q.meta.deviceName, "");
  EXPECT_EQ(q.meta.cudaRuntimeVersion, 0);
  EXPECT_EQ(q.meta.cudnnVersion, 0);
  EXPECT_EQ(q.meta.cublasLtVersion, 0);
}

TEST(PlanDeviceTarget, WriterRefusesNegativeVersions) {
  PlanContents p = samplePlan();
  p.meta.cudnnVersion = -1;
  try {
    writePlan(p);
    FAIL() << "writePlan accepted a negative cuDNN version";
  } catch (const kiln::Error& e) {
    EXPECT_NE(std::string(e.what()).find("negative library version"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace kiln::plan
