// Kiln's built-in plugins, TensorRT's NvInferPlugin.h counterpart: CPU
// versions of plugins TensorRT ships, under TensorRT's names and fields.
//   EfficientNMS_TRT (version "1"): batched NMS -> num_detections, detection_boxes,
//                                   detection_scores, detection_classes
//   ROIAlign_TRT     (version "1"): RoI Align
// docs/plugins.md ("Built-in plugins") describes their inputs, outputs and fields.
#pragma once

#include "kiln/plugin.h"

//! Registers the built-in plugins' creators with getPluginRegistry() under
//! `libNamespace` ("" for none), so that addPluginV3 and the ONNX parser (for
//! nodes of those op types) find them. `logger` (an ILogger*, may be null)
//! becomes the registry's logger. Safe to call more than once. Returns false
//! when a creator could not be registered (the logger says why).
extern "C" bool initLibKilnPlugins(void* logger, const char* libNamespace) noexcept;
