// The fallback for ONNX ops Kiln has no importer for, as TensorRT's parser
// does it: the plugin registry is asked for a creator named like the op, with
// the node's `plugin_version` (default "1") and `plugin_namespace` (default "")
// attributes; every other attribute becomes a plugin field.
#pragma once
#include <string>

#include <onnx/onnx_pb.h>

#include "kiln/plugin.h"
#include "onnx/import_context.h"

namespace kiln::onnx {

//! The creator that provides this node's op, or nullptr.
IPluginCreatorV3One* pluginCreatorFor(const ::onnx::NodeProto& node);
//! `plugin "Op" (version "1", namespace "")`: the creator the node asks for.
std::string pluginWanted(const ::onnx::NodeProto& node);
//! Imports the node as a KilnPlugin node made by its creator.
void importPlugin(NodeContext& ctx);

}  // namespace kiln::onnx
