// Kiln's built-in plugins: the CPU versions of plugins TensorRT ships
// (EfficientNMS_TRT, ROIAlign_TRT), registered by initLibKilnPlugins
// (include/kiln/builtin_plugins.h) under the namespace it is given.
#pragma once
#include <memory>
#include <string>

#include "kiln/plugin.h"

namespace kiln::plugins::builtin {

std::unique_ptr<IPluginCreatorV3One> makeEfficientNmsCreator(const std::string& ns);  // builtin_efficient_nms.cc
std::unique_ptr<IPluginCreatorV3One> makeRoiAlignCreator(const std::string& ns);      // builtin_roi_align.cc

}  // namespace kiln::plugins::builtin
