// Kiln: umbrella header of the public API.
#pragma once
#include "kiln/builder.h"
#include "kiln/builtin_plugins.h"
#include "kiln/network.h"
#include "kiln/onnx_parser.h"
#include "kiln/plugin.h"
#include "kiln/runtime.h"
#include "kiln/types.h"
