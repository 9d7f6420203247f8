// luojia-info: what luojia sees in a raster, or in a model.
#include "cli/cli.hpp"

#include <luojia/error.hpp>
#include <luojia/nn/model.hpp>
#include <luojia/io/raster.hpp>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <cctype>
#include <iostream>
#include <sstream>

using namespace luojia;

namespace {

bool is_model_path(std::string path) {
  std::transform(path.begin(), path.end(), path.begin(), [](unsigned char c) { return std::tolower(c); });
  return path.size() > 5 && path.compare(path.size() - 5, 5, ".onnx") == 0;
}

std::string model_json(const nn::Model& model, const std::vector<nn::OutputAnalysis>& analysis, const std::string& analysis_error) {
  using Json = nlohmann::ordered_json;
  const nn::ModelMetadata& m = model.metadata();
  Json doc;
  doc["path"] = model.path();
  doc["opset"] = model.opset();
  doc["nodes"] = model.node_count();
  const auto specs = [](const std::vector<nn::TensorSpec>& v) {
    Json list = Json::array();
    for (const auto& s : v) list.push_back({{"name", s.name}, {"shape", s.shape}});
    return list;
  };
  doc["inputs"] = specs(model.inputs());
  doc["outputs"] = specs(model.outputs());
  doc["metadata"] = Json::parse(nn::to_json(m));
  doc["analysis"] = Json::array();
  for (const auto& a : analysis) {
    Json entry = {{"output", a.name}, {"tileable", a.tileable}, {"reason", a.reason}, {"radius", a.radius},
                  {"stride", a.stride}, {"upscale", a.upscale}, {"alignment", a.alignment}};
    if (!a.anchors.empty()) {
      entry["anchor_axis"] = a.anchor_axis;
      entry["anchor_levels"] = Json::array();
      for (const auto& g : a.anchors)
        entry["anchor_levels"].push_back({{"stride", g.stride}, {"groups", g.groups}, {"radius", g.radius}});
    }
    doc["analysis"].push_back(entry);
  }
  if (!analysis_error.empty()) doc["analysis_error"] = analysis_error;
  return doc.dump(2, ' ', false, Json::error_handler_t::replace) + "\n";
}

std::string model_text(const nn::Model& model, const std::vector<nn::OutputAnalysis>& analysis, const std::string& analysis_error) {
  std::ostringstream out;
  out << "Model: " << model.path() << "\nOpset: " << model.opset() << ", " << model.node_count() << " nodes\n";
  for (const auto& s : model.inputs()) out << "Input: " << s.name << " " << nn::to_string(s.shape) << "\n";
  for (const auto& s : model.outputs()) out << "Output: " << s.name << " " << nn::to_string(s.shape) << "\n";
  out << to_text(model.metadata());
  for (const auto& a : analysis) {
    out << "Tiling of " << a.name << ": ";
    if (a.tileable)
      out << "exact with a halo of " << a.radius << " px";
    else
      out << "not exactly tileable (" << a.reason << ")";
    out << ", alignment " << a.alignment;
    if (a.upscale > 1) out << ", output " << a.upscale << "x finer than the input";
    if (!a.anchors.empty()) {
      out << ", anchors on axis " << a.anchor_axis << " from " << a.anchors.size() << " grid" << (a.anchors.size() == 1 ? "" : "s")
          << " (strides";
      for (const auto& g : a.anchors) out << " " << g.stride << (g.groups > 1 ? " x" + std::to_string(g.groups) : "");
      out << ")";
    } else if (a.stride > 1) {
      out << ", output 1/" << a.stride << " of the input's resolution";
    }
    out << "\n";
  }
  if (!analysis_error.empty()) out << "Tiling: not analysed (" << analysis_error << ")\n";
  return out.str();
}

// --check: each operator supported or not, then the tiling verdict when everything is supported.
int check_model(const std::string& path, bool json) {
  using Json = nlohmann::ordered_json;
  const auto uses = nn::list_operators(path);
  std::size_t unsupported = 0;
  for (const auto& u : uses) unsupported += u.supported ? 0 : 1;
  std::vector<nn::OutputAnalysis> analysis;
  std::string analysis_error;
  int opset = 0;
  if (unsupported == 0) {
    try {
      const nn::Model model = nn::Model::load(path);
      opset = model.opset();
      analysis = model.analyse();
    } catch (const Error& e) {
      analysis_error = e.message();
    }
  }
  const auto name = [](const nn::OperatorUse& u) { return u.domain.empty() ? u.op_type : u.domain + "." + u.op_type; };
  if (json) {
    Json doc;
    doc["path"] = path;
    doc["supported"] = unsupported == 0;
    doc["operators"] = Json::array();
    for (const auto& u : uses) {
      Json o = {{"domain", u.domain}, {"op_type", u.op_type}, {"opset", u.opset}, {"nodes", u.nodes}, {"supported", u.supported}};
      if (!u.supported) o["problem"] = u.problem;
      doc["operators"].push_back(o);
    }
    doc["tiling"] = Json::array();
    for (const auto& a : analysis)
      doc["tiling"].push_back({{"output", a.name}, {"exact", a.tileable}, {"halo", a.radius}, {"alignment", a.alignment},
                               {"reason", a.reason}, {"needs_blend", !a.tileable}});
    if (!analysis_error.empty()) doc["tiling_error"] = analysis_error;
    std::cout << doc.dump(2, ' ', false, Json::error_handler_t::replace) << "\n";
  } else {
    std::cout << "Operators of " << path << (opset ? " (opset " + std::to_string(opset) + ")" : std::string()) << ":\n";
    std::size_t width = 0;
    for (const auto& u : uses) width = std::max(width, name(u).size());
    for (const auto& u : uses) {
      std::string n = name(u);
      n.resize(width, ' ');
      std::cout << "  " << (u.supported ? "supported    " : "UNSUPPORTED  ") << n << "  " << u.nodes << (u.nodes == 1 ? " node" : " nodes");
      if (!u.supported) std::cout << ": " << u.problem;
      std::cout << "\n";
    }
    for (const auto& a : analysis) {
      std::cout << "Tiling of " << a.name << ": ";
      if (a.tileable)
        std::cout << "exact with a halo of " << a.radius << " px, tiles aligned to " << a.alignment << " px\n";
      else
        std::cout << "needs --blend (" << a.reason << ")\n";
    }
    if (!analysis_error.empty()) std::cout << "Tiling: not analysed (" << analysis_error << ")\n";
    if (unsupported > 0) std::cout << "Tiling: not analysed (unsupported operators)\n";
    std::cout << (unsupported == 0 ? "luojia runs this model\n"
                                   : std::to_string(unsupported) + " operator" + (unsupported == 1 ? " is" : "s are") +
                                         " not supported\n");
  }
  return unsupported == 0 && analysis_error.empty() ? 0 : 1;
}

// The option table of a program installed beside this one, as it prints it: one source of truth.
int describe_program(const std::string& program, int argc, char** argv) {
  bool json = false;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--json") json = true;
    else if (a == "--describe") ++i;
    else throw cli::UsageError("--describe takes only --json besides PROGRAM, not " + a);
  }
  if (program.rfind("luojia-", 0) != 0 ||
      !std::all_of(program.begin() + 7, program.end(), [](unsigned char c) { return std::islower(c) != 0; }))
    throw cli::UsageError("--describe takes a luojia program's name (luojia-segment, luojia-detect, ...), not '" + program + "'");
  const std::filesystem::path path = std::filesystem::read_symlink("/proc/self/exe").parent_path() / program;
  if (!std::filesystem::exists(path)) throw cli::UsageError(program + " is not installed beside luojia-info (" + path.string() + ")");
  const std::string command = "'" + path.string() + "' " + (json ? "--json-usage" : "--help");
  FILE* pipe = popen(command.c_str(), "r");
  if (!pipe) raise("cannot run " + path.string());
  std::string text;
  char buffer[4096];
  for (std::size_t n; (n = std::fread(buffer, 1, sizeof buffer, pipe)) > 0;) text.append(buffer, n);
  if (pclose(pipe) != 0) raise(program + " could not describe itself");
  std::cout << text;
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  return cli::run("luojia-info", [&] {
    cli::ArgParser args("luojia-info", "[--json] [--check] INPUT | --operators | --describe PROGRAM [--json]",
                        "Prints size, bands, data types, nodata, scale/offset, CRS, geotransform, block "
                        "size and metadata\nof a raster, as luojia reads it. For a model (.onnx): inputs, "
                        "outputs, the metadata luojia\nunderstood (its own and Deepness's keys) and how "
                        "it tiles.");
    std::string input;
    bool json = false, check = false, operators = false;
    args.flag("--operators", "Print the operators luojia runs (its layer registry), one per line, and exit", operators);
    args.positional("INPUT", "Any raster GDAL reads (files, /vsizip/, /vsicurl/-free VRT, ...), or an ONNX model", input);
    args.flag("--json", "Print JSON instead of text", json);
    args.flag("--check", "For a model: every operator, supported or not, and the tiling verdict (exact with a halo, or\n"
                         "needs --blend and why), without running it; exit status 1 when something is unsupported",
              check);
    std::string describe;
    args.value("--describe", "PROGRAM", "Print the options of another luojia program (its --help; with --json its option table,\n"
                                        "what the QGIS provider and scripts read) and exit; no INPUT", describe);
    if (argc == 2 && std::string(argv[1]) == "--operators") operators = true;  // needs no INPUT
    for (int i = 1; i + 1 < argc; ++i)
      if (std::string(argv[i]) == "--describe") return describe_program(argv[i + 1], argc, argv);
    if (operators) {
      for (const auto& [domain, op] : nn::LayerRegistry::with_builtins().operators())
        std::cout << (domain.empty() ? op : domain + "." + op) << "\n";
      return 0;
    }
    if (!args.parse(argc, argv)) return 0;
    if (operators) throw cli::UsageError("--operators takes no INPUT");
    if (check) {
      if (!is_model_path(input)) throw cli::UsageError("--check takes an ONNX model (.onnx), not " + input);
      return check_model(input, json);
    }
    if (is_model_path(input)) {
      const nn::Model model = nn::Model::load(input);
      std::vector<nn::OutputAnalysis> analysis;
      std::string analysis_error;
      try {
        analysis = model.analyse();
      } catch (const Error& e) {
        analysis_error = e.message();  // a model luojia cannot plan still has metadata to show
      }
      std::cout << (json ? model_json(model, analysis, analysis_error) : model_text(model, analysis, analysis_error));
      return 0;
    }
    const Raster raster = Raster::open(input);
    std::cout << (json ? to_json(raster.info()) : to_text(raster.info()));
    return 0;
  });
}
