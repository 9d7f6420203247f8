// Reads .onnx files with ONNX's own protobuf classes (Debian's libonnx-dev).
#include "nn/graph.hpp"

#include <luojia/error.hpp>

#include <onnx/onnx_pb.h>

#include <filesystem>
#include <fstream>
#include <limits>
#include <cstring>
#include <set>

namespace luojia::nn::detail {
namespace {

namespace fs = std::filesystem;

struct Loader {
  std::string path;
  LoadOptions options;

  [[noreturn]] void fail(const std::string& message, const std::string& node = {}) const {
    ErrorContext where;
    where.file = path;
    where.node = node;
    throw ModelError(message, where);
  }

  std::string read_external(const onnx::TensorProto& t, std::size_t expected) const {
    std::string location;
    std::int64_t offset = 0, length = -1;
    for (const auto& kv : t.external_data()) {
      if (kv.key() == "location") location = kv.value();
      else if (kv.key() == "offset") offset = std::stoll(kv.value());
      else if (kv.key() == "length") length = std::stoll(kv.value());
    }
    if (location.empty()) fail("initializer '" + t.name() + "' has external data without a location");
    const fs::path folder = fs::weakly_canonical(fs::absolute(path)).parent_path();
    const fs::path file = fs::weakly_canonical(folder / location);
    const auto rel = file.lexically_relative(folder);
    if (fs::path(location).is_absolute() || rel.empty() || *rel.begin() == "..")
      fail("initializer '" + t.name() + "' points outside the model's folder: " + location);
    std::ifstream in(file, std::ios::binary);
    if (!in) fail("initializer '" + t.name() + "': cannot open external data " + location);
    in.seekg(0, std::ios::end);
    const auto size = static_cast<std::int64_t>(in.tellg());
    if (length < 0) length = size - offset;
    if (offset < 0 || length != static_cast<std::int64_t>(expected) || offset + length > size)
      fail("initializer '" + t.name() + "': external data " + location + " holds " + std::to_string(size) +
           " bytes, not the " + std::to_string(expected) + " its shape needs at offset " + std::to_string(offset));
    std::string bytes(static_cast<std::size_t>(length), '\0');
    in.seekg(offset);
    in.read(bytes.data(), length);
    return bytes;
  }

  Tensor to_tensor(const onnx::TensorProto& t) const {
    Shape shape;
    std::int64_t count = 1;
    for (std::int64_t d : t.dims()) {
      if (d < 0) fail("initializer '" + t.name() + "' has a negative dimension");
      if (d > 0 && count > std::numeric_limits<std::int64_t>::max() / d)
        fail("initializer '" + t.name() + "' has an impossible size");
      count *= d;
      shape.push_back(d);
    }
    const auto type = t.data_type();
    std::size_t element = 0;
    switch (type) {
      case onnx::TensorProto::FLOAT: case onnx::TensorProto::INT32: element = 4; break;
      case onnx::TensorProto::INT64: case onnx::TensorProto::DOUBLE: element = 8; break;
      case onnx::TensorProto::BOOL: case onnx::TensorProto::UINT8: case onnx::TensorProto::INT8: element = 1; break;
      default:
        fail("initializer '" + t.name() + "' has data type " + std::to_string(type) + ", which luojia does not read");
    }
    const std::size_t bytes_needed = static_cast<std::size_t>(count) * element;
    if (bytes_needed > options.max_tensor_bytes)
      fail("initializer '" + t.name() + "' would need " + std::to_string(bytes_needed >> 20) + " MiB, over the limit");
    const bool is_float = type == onnx::TensorProto::FLOAT || type == onnx::TensorProto::DOUBLE;
    Tensor out(shape, is_float ? ElementType::Float32 : ElementType::Int64);
    std::string raw;
    const std::string* data = nullptr;
    if (t.data_location() == onnx::TensorProto::EXTERNAL) {
      raw = read_external(t, bytes_needed);
      data = &raw;
    } else if (t.has_raw_data()) {
      data = &t.raw_data();
    }
    auto check = [&](std::size_t have) {
      if (have != static_cast<std::size_t>(count))
        fail("initializer '" + t.name() + "' holds " + std::to_string(have) + " values, its shape " +
             to_string(shape) + " needs " + std::to_string(count));
    };
    if (data) {
      if (data->size() != bytes_needed)
        fail("initializer '" + t.name() + "' holds " + std::to_string(data->size()) + " bytes, its shape " +
             to_string(shape) + " needs " + std::to_string(bytes_needed));
      const char* p = data->data();
      for (std::int64_t i = 0; i < count; ++i, p += element) {
        switch (type) {
          case onnx::TensorProto::FLOAT: { float v; std::memcpy(&v, p, 4); out.data()[i] = v; break; }
          case onnx::TensorProto::DOUBLE: { double v; std::memcpy(&v, p, 8); out.data()[i] = static_cast<float>(v); break; }
          case onnx::TensorProto::INT32: { std::int32_t v; std::memcpy(&v, p, 4); out.ints()[i] = v; break; }
          case onnx::TensorProto::INT64: { std::int64_t v; std::memcpy(&v, p, 8); out.ints()[i] = v; break; }
          case onnx::TensorProto::INT8: { std::int8_t v; std::memcpy(&v, p, 1); out.ints()[i] = v; break; }
          default: { std::uint8_t v; std::memcpy(&v, p, 1); out.ints()[i] = v; break; }
        }
      }
      return out;
    }
    switch (type) {
      case onnx::TensorProto::FLOAT:
        check(static_cast<std::size_t>(t.float_data_size()));
        std::copy(t.float_data().begin(), t.float_data().end(), out.data());
        break;
      case onnx::TensorProto::DOUBLE:
        check(static_cast<std::size_t>(t.double_data_size()));
        for (int i = 0; i < t.double_data_size(); ++i) out.data()[i] = static_cast<float>(t.double_data(i));
        break;
      case onnx::TensorProto::INT64:
        check(static_cast<std::size_t>(t.int64_data_size()));
        std::copy(t.int64_data().begin(), t.int64_data().end(), out.ints());
        break;
      default:
        check(static_cast<std::size_t>(t.int32_data_size()));
        std::copy(t.int32_data().begin(), t.int32_data().end(), out.ints());
        break;
    }
    return out;
  }

  TensorSpec to_spec(const onnx::ValueInfoProto& v) const {
    TensorSpec spec;
    spec.name = v.name();
    if (v.type().has_tensor_type()) {
      const auto& tt = v.type().tensor_type();
      spec.type = tt.elem_type() == onnx::TensorProto::INT64 ? ElementType::Int64 : ElementType::Float32;
      for (const auto& d : tt.shape().dim()) spec.shape.push_back(d.has_dim_value() ? d.dim_value() : -1);
    }
    return spec;
  }

  Attributes to_attributes(const onnx::NodeProto& n, const std::string& node) const {
    Attributes a;
    for (const auto& attr : n.attribute()) {
      switch (attr.type()) {
        case onnx::AttributeProto::INT: a.set(attr.name(), static_cast<std::int64_t>(attr.i())); break;
        case onnx::AttributeProto::FLOAT: a.set(attr.name(), attr.f()); break;
        case onnx::AttributeProto::STRING: a.set(attr.name(), attr.s()); break;
        case onnx::AttributeProto::INTS:
          a.set(attr.name(), std::vector<std::int64_t>(attr.ints().begin(), attr.ints().end()));
          break;
        case onnx::AttributeProto::FLOATS:
          a.set(attr.name(), std::vector<float>(attr.floats().begin(), attr.floats().end()));
          break;
        case onnx::AttributeProto::STRINGS:
          a.set(attr.name(), std::vector<std::string>(attr.strings().begin(), attr.strings().end()));
          break;
        case onnx::AttributeProto::TENSOR: a.set(attr.name(), to_tensor(attr.t())); break;
        default: fail("attribute '" + attr.name() + "' holds a subgraph or another kind luojia does not run", node);
      }
    }
    return a;
  }
};

}  // namespace

Graph load_onnx(const std::string& path, const LoadOptions& options) {
  Loader loader{path, options};
  std::error_code ec;
  if (!fs::exists(path, ec)) loader.fail("no such file");
  if (fs::is_directory(path, ec)) loader.fail("is a folder, not a model");
  const auto size = fs::file_size(path, ec);
  if (ec || size == 0) loader.fail("empty file (0 bytes)");
  if (size > (std::uintmax_t{2} << 30) - 1) loader.fail("larger than protobuf's 2 GiB limit");
  std::ifstream in(path, std::ios::binary);
  if (!in) loader.fail("cannot open the model file");
  onnx::ModelProto model;
  if (!model.ParseFromIstream(&in)) loader.fail("not an ONNX model (the protobuf does not parse)");
  if (!model.has_graph() || model.graph().node_size() == 0) loader.fail("not an ONNX model (no graph)");

  Graph g;
  g.path = path;
  for (const auto& op : model.opset_import()) {
    const std::string domain = op.domain() == "ai.onnx" ? "" : op.domain();
    g.opsets[domain] = static_cast<int>(op.version());
  }
  g.opset = g.opsets.count("") ? g.opsets[""] : 0;
  if (g.opset < 11 || g.opset > 21)
    loader.fail("opset " + std::to_string(g.opset) + " of the default domain is outside what luojia runs (11 to 21); "
                "re-export with torch.onnx.export(..., opset_version=17)");
  for (const auto& p : model.metadata_props()) g.metadata_props.emplace_back(p.key(), p.value());

  const auto& graph = model.graph();
  for (const auto& t : graph.initializer()) g.initializers[t.name()] = loader.to_tensor(t);
  for (const auto& v : graph.input())
    if (!g.initializers.count(v.name())) g.inputs.push_back(loader.to_spec(v));
  for (const auto& v : graph.output()) g.outputs.push_back(loader.to_spec(v));
  if (g.inputs.empty()) loader.fail("the graph has no runtime input");

  int index = 0;
  for (const auto& n : graph.node()) {
    NodeInfo node;
    node.name = n.name().empty() ? n.op_type() + "_" + std::to_string(index) : n.name();
    ++index;
    node.op_type = n.op_type();
    node.domain = n.domain() == "ai.onnx" ? "" : n.domain();
    node.opset = g.opsets.count(node.domain) ? g.opsets[node.domain] : 1;
    node.model_path = path;
    node.attributes = loader.to_attributes(n, node.describe());
    node.inputs.assign(n.input().begin(), n.input().end());
    node.outputs.assign(n.output().begin(), n.output().end());
    g.nodes.push_back(std::move(node));
  }
  sort_topologically(g);
  return g;
}

void sort_topologically(Graph& g) {
  std::set<std::string> defined;
  for (const auto& [name, t] : g.initializers) defined.insert(name);
  for (const auto& i : g.inputs) defined.insert(i.name);
  std::map<std::string, std::size_t> producer;
  for (std::size_t i = 0; i < g.nodes.size(); ++i)
    for (const auto& o : g.nodes[i].outputs) {
      if (o.empty()) continue;
      if (producer.count(o) || defined.count(o))
        throw ModelError("value '" + o + "' is defined twice", ErrorContext{g.path, {}, {}, g.nodes[i].describe()});
      producer[o] = i;
    }
  for (const auto& n : g.nodes)
    for (const auto& in : n.inputs)
      if (!in.empty() && !defined.count(in) && !producer.count(in))
        throw ModelError("reads '" + in + "', which no node, input or initializer defines",
                    ErrorContext{g.path, {}, {}, n.describe()});
  // Depth-first from each node in file order, with an explicit stack so that a deep (or crafted)
  // graph cannot overflow the call stack; a node met again while on the stack closes a cycle.
  std::vector<int> state(g.nodes.size(), 0);  // 0 new, 1 on the stack, 2 placed
  std::vector<NodeInfo> sorted;
  sorted.reserve(g.nodes.size());
  std::vector<std::pair<std::size_t, std::size_t>> stack;  // node, next input to look at
  for (std::size_t root = 0; root < g.nodes.size(); ++root) {
    if (state[root] != 0) continue;
    state[root] = 1;
    stack.emplace_back(root, 0);
    while (!stack.empty()) {
      auto& [n, k] = stack.back();
      if (k < g.nodes[n].inputs.size()) {
        const auto it = producer.find(g.nodes[n].inputs[k++]);
        if (it == producer.end()) continue;
        if (state[it->second] == 1)
          throw ModelError("the graph has a cycle through this node", ErrorContext{g.path, {}, {}, g.nodes[it->second].describe()});
        if (state[it->second] == 0) {
          state[it->second] = 1;
          stack.emplace_back(it->second, 0);
        }
        continue;
      }
      state[n] = 2;
      sorted.push_back(g.nodes[n]);
      stack.pop_back();
    }
  }
  for (const auto& o : g.outputs)
    if (!defined.count(o.name) && !producer.count(o.name))
      throw ModelError("graph output '" + o.name + "' is never computed", ErrorContext{g.path, {}, {}, {}});
  g.nodes = std::move(sorted);
}

}  // namespace luojia::nn::detail
