// kiln.OnnxParser (tensorrt.OnnxParser) and its error records.
#include <nanobind/stl/list.h>
#include <nanobind/stl/optional.h>
#include <nanobind/stl/string.h>

#include <optional>
#include <string>

#include "net_state.h"

namespace kiln::py {

namespace {

struct ParserState {
  LoggerPtr log;
  NetPtr net;  // the network the parser fills, kept alive
  std::unique_ptr<onnx::IParser> parser;
};

struct PyParser {
  Held<ParserState> st;
  onnx::IParser* get() const { return st.get()->parser.get(); }
};

//! A copy of one IParserError (the parser's own records die with clear_errors).
struct ParserErrorRecord {
  onnx::ErrorCode code;
  std::string desc, file, func, nodeName, nodeOperator;
  int line, node;
};

const char* codeName(onnx::ErrorCode c) {
  static const char* names[] = {"SUCCESS",
                                "INTERNAL_ERROR",
                                "MEM_ALLOC_FAILED",
                                "MODEL_DESERIALIZE_FAILED",
                                "INVALID_VALUE",
                                "INVALID_GRAPH",
                                "INVALID_NODE",
                                "UNSUPPORTED_GRAPH",
                                "UNSUPPORTED_NODE",
                                "UNSUPPORTED_NODE_ATTR",
                                "UNSUPPORTED_NODE_INPUT",
                                "UNSUPPORTED_NODE_DATATYPE",
                                "UNSUPPORTED_NODE_DYNAMIC",
                                "UNSUPPORTED_NODE_SHAPE",
                                "REFIT_FAILED"};
  int i = static_cast<int>(c);
  return i >= 0 && i < 15 ? names[i] : "UNKNOWN";
}

//! As tensorrt prints a ParserError: where, then code and description.
std::string describe(const ParserErrorRecord& e) {
  std::string where;
  if (e.node >= 0)
    where = "In node " + std::to_string(e.node) + " with name: " + e.nodeName + " and operator: " + e.nodeOperator +
            " ";
  if (!e.func.empty()) where += "(" + e.func + "): ";
  return where + codeName(e.code) + ": " + e.desc;
}

//! The node indices of subgraph `index` of the last supportsModelV2, as a list.
nb::list subgraphNodes(onnx::IParser& parser, int64_t index) {
  int64_t length = 0;
  const int64_t* nodes = parser.getSubgraphNodes(index, length);
  nb::list out;
  for (int64_t k = 0; nodes && k < length; ++k) out.append(nodes[k]);
  return out;
}

void checkSubgraphIndex(onnx::IParser& parser, int64_t index, const char* func) {
  if (index < 0 || index >= parser.getNbSubgraphs())
    throw nb::index_error((std::string("OnnxParser.") + func + ": subgraph index " + std::to_string(index) +
                           " is out of range (" + std::to_string(parser.getNbSubgraphs()) +
                           " subgraphs; call supports_model_v2 first)")
                              .c_str());
}

}  // namespace

void bindParser(nb::module_& m) {
  nb::enum_<onnx::ErrorCode>(m, "ErrorCode", nb::is_arithmetic(), "Error codes of kiln.OnnxParser.")
      .value("SUCCESS", onnx::ErrorCode::kSUCCESS)
      .value("INTERNAL_ERROR", onnx::ErrorCode::kINTERNAL_ERROR)
      .value("MEM_ALLOC_FAILED", onnx::ErrorCode::kMEM_ALLOC_FAILED)
      .value("MODEL_DESERIALIZE_FAILED", onnx::ErrorCode::kMODEL_DESERIALIZE_FAILED)
      .value("INVALID_VALUE", onnx::ErrorCode::kINVALID_VALUE)
      .value("INVALID_GRAPH", onnx::ErrorCode::kINVALID_GRAPH)
      .value("INVALID_NODE", onnx::ErrorCode::kINVALID_NODE)
      .value("UNSUPPORTED_GRAPH", onnx::ErrorCode::kUNSUPPORTED_GRAPH)
      .value("UNSUPPORTED_NODE", onnx::ErrorCode::kUNSUPPORTED_NODE)
      .value("UNSUPPORTED_NODE_ATTR", onnx::ErrorCode::kUNSUPPORTED_NODE_ATTR)
      .value("UNSUPPORTED_NODE_INPUT", onnx::ErrorCode::kUNSUPPORTED_NODE_INPUT)
      .value("UNSUPPORTED_NODE_DATATYPE", onnx::ErrorCode::kUNSUPPORTED_NODE_DATATYPE)
      .value("UNSUPPORTED_NODE_DYNAMIC", onnx::ErrorCode::kUNSUPPORTED_NODE_DYNAMIC)
      .value("UNSUPPORTED_NODE_SHAPE", onnx::ErrorCode::kUNSUPPORTED_NODE_SHAPE)
      .value("REFIT_FAILED", onnx::ErrorCode::kREFIT_FAILED);

  nb::class_<ParserErrorRecord>(m, "ParserError", "One error of kiln.OnnxParser (tensorrt.ParserError).")
      .def("code", [](const ParserErrorRecord& e) { return e.code; })
      .def("desc", [](const ParserErrorRecord& e) { return e.desc; })
      .def("file", [](const ParserErrorRecord& e) { return e.file; })
      .def("func", [](const ParserErrorRecord& e) { return e.func; })
      .def("line", [](const ParserErrorRecord& e) { return e.line; })
      .def("node", [](const ParserErrorRecord& e) { return e.node; })
      .def("node_name", [](const ParserErrorRecord& e) { return e.nodeName; })
      .def("node_operator", [](const ParserErrorRecord& e) { return e.nodeOperator; })
      .def("__str__", &describe)
      .def("__repr__", [](const ParserErrorRecord& e) { return "<kiln.ParserError " + describe(e) + ">"; });

  nb::class_<PyParser>(m, "OnnxParser", "Fills a network definition from an ONNX model (tensorrt.OnnxParser).")
      .def(
          "__init__",
          [](PyParser* self, nb::handle network, nb::handle logger) {
            const PyNetwork& net = nb::cast<const PyNetwork&>(network);
            LoggerPtr log = makeBridge(logger);
            NetPtr st = net.st.ptr;
            onnx::IParser* p = onnx::createParser(*net.get(), *log);
            if (!p) throw KilnError("kiln.OnnxParser: could not create a parser");
            new (self) PyParser{
                {std::make_shared<ParserState>(ParserState{log, st, std::unique_ptr<onnx::IParser>(p)}),
                 "kiln.OnnxParser"}};
          },
          nb::arg("network"), nb::arg("logger"),
          nb::sig("def __init__(self, network: INetworkDefinition, logger: ILogger) -> None"))
      .def(
          "parse",
          [](PyParser& p, nb::handle model, std::optional<std::string> path) {
            onnx::IParser* parser = p.get();
            auto hold = p.st.ptr;
            BufferView buf(model, "OnnxParser.parse");
            nb::gil_scoped_release release;
            return parser->parse(buf.data(), buf.size(), path ? path->c_str() : nullptr);
          },
          nb::arg("model").none(), nb::arg("path").none() = nb::none(),
          nb::sig("def parse(self, model: collections.abc.Buffer, path: str | None = None) -> bool"),
          "Parses a serialized ModelProto; `path` locates external-data files. False on error (see get_error).")
      .def(
          "parse_from_file",
          [](PyParser& p, const std::string& path) {
            onnx::IParser* parser = p.get();
            auto hold = p.st.ptr;
            nb::gil_scoped_release release;
            return parser->parseFromFile(path.c_str(), static_cast<int>(ILogger::Severity::kWARNING));
          },
          nb::arg("model"))
      .def(
          "supports_model",
          [](PyParser& p, nb::handle model, std::optional<std::string> path) {
            BufferView buf(model, "OnnxParser.supports_model");
            onnx::IParser* parser = p.get();
            bool ok = parser->supportsModelV2(buf.data(), buf.size(), path ? path->c_str() : nullptr);
            nb::list runs;
            for (int64_t i = 0; i < parser->getNbSubgraphs(); ++i) {
              if (!parser->isSubgraphSupported(i)) continue;
              runs.append(nb::make_tuple(subgraphNodes(*parser, i), true));
            }
            return nb::make_tuple(ok, runs);
          },
          nb::arg("model").none(), nb::arg("path").none() = nb::none(),
          nb::sig("def supports_model(self, model: collections.abc.Buffer, path: str | None = None) "
                  "-> tuple[bool, list[tuple[list[int], bool]]]"),
          "(supported, [(node indices, True), ...]): the runs of nodes Kiln supports, as tensorrt's deprecated "
          "supports_model returns them (runs through supports_model_v2).")
      .def(
          "supports_model_v2",
          [](PyParser& p, nb::handle model, std::optional<std::string> path) {
            onnx::IParser* parser = p.get();
            auto hold = p.st.ptr;
            BufferView buf(model, "OnnxParser.supports_model_v2");
            nb::gil_scoped_release release;
            return parser->supportsModelV2(buf.data(), buf.size(), path ? path->c_str() : nullptr);
          },
          nb::arg("model").none(), nb::arg("path").none() = nb::none(),
          nb::sig("def supports_model_v2(self, model: collections.abc.Buffer, path: str | None = None) -> bool"),
          "True when every node imports; then num_subgraphs, is_subgraph_supported(i) and get_subgraph_nodes(i) "
          "describe the nodes cut into supported and unsupported runs (each unsupported node is also an error).")
      .def_prop_ro("num_subgraphs", [](PyParser& p) { return p.get()->getNbSubgraphs(); })
      .def(
          "is_subgraph_supported",
          [](PyParser& p, int64_t index) {
            checkSubgraphIndex(*p.get(), index, "is_subgraph_supported");
            return p.get()->isSubgraphSupported(index);
          },
          nb::arg("index"))
      .def(
          "get_subgraph_nodes",
          [](PyParser& p, int64_t index) {
            checkSubgraphIndex(*p.get(), index, "get_subgraph_nodes");
            return subgraphNodes(*p.get(), index);
          },
          nb::arg("index"), "The ONNX node indices of subgraph `index`, in the order they import.")
      .def(
          "supports_operator", [](const PyParser& p, const std::string& op) { return p.get()->supportsOperator(op.c_str()); },
          nb::arg("op_name"))
      .def_prop_ro("num_errors", [](const PyParser& p) { return p.get()->getNbErrors(); })
      .def(
          "get_error",
          [](const PyParser& p, int index) {
            const onnx::IParserError* e = p.get()->getError(index);
            if (!e) throw nb::index_error("OnnxParser.get_error: index out of range");
            return ParserErrorRecord{e->code(),          str(e->desc()), str(e->file()), str(e->func()),
                                     str(e->nodeName()), str(e->nodeOperator()), e->line(),    e->node()};
          },
          nb::arg("index"))
      .def("clear_errors", [](PyParser& p) { p.get()->clearErrors(); })
      .def("__enter__", [](nb::handle self) { return self; })
      .def("__exit__", [](PyParser& p, nb::args) { p.st.free(); });
}

}  // namespace kiln::py
