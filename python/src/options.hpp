#pragma once
// Keyword arguments into the library's option structs, under the structs' own field names: one
// table per task, declared once. The table converts each value, refuses a name it does not know and
// a value of the wrong kind (luojia.UsageError naming the option), and writes the docstring's
// option list, so Python, C++ and the programs' --json-usage "field" speak of the same options.
#include <luojia/engine/engine.hpp>
#include <luojia/error.hpp>
#include <luojia/io/raster_writer.hpp>

#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <type_traits>
#include <vector>

namespace luojia::python {

namespace py = pybind11;

namespace detail {

template <class T> struct is_vector : std::false_type {};
template <class T> struct is_vector<std::vector<T>> : std::true_type {};
template <class T> struct is_optional : std::false_type {};
template <class T> struct is_map : std::false_type {};
template <class K, class V> struct is_map<std::map<K, V>> : std::true_type {};
template <class T> struct is_optional<std::optional<T>> : std::true_type {};

template <class T>
std::string kind_name() {
  if constexpr (std::is_same_v<T, bool>) return "bool";
  else if constexpr (std::is_integral_v<T>) return "int";
  else if constexpr (std::is_floating_point_v<T>) return "float";
  else if constexpr (std::is_same_v<T, std::string>) return "str";
  else if constexpr (is_optional<T>::value) return kind_name<typename T::value_type>() + " | None";
  else if constexpr (is_vector<T>::value) return "list[" + kind_name<typename T::value_type>() + "]";
  else if constexpr (is_map<T>::value)
    return "dict[" + kind_name<typename T::key_type>() + ", " + kind_name<typename T::mapped_type>() + "]";
  else return "object";
}

// A path may come as str or os.PathLike (pathlib.Path).
inline std::string text(py::handle value, const std::string& name) {
  if (py::isinstance<py::str>(value)) return value.cast<std::string>();
  if (py::hasattr(value, "__fspath__")) return py::module_::import("os").attr("fspath")(value).cast<std::string>();
  throw UsageError(name, "is text (str or a path), not " + py::str(value.get_type().attr("__name__")).cast<std::string>());
}

template <class T>
T convert(py::handle value, const std::string& name) {
  const auto refuse = [&]() -> T {
    throw UsageError(name, "is " + kind_name<T>() + ", not " +
                               py::str(value.get_type().attr("__name__")).cast<std::string>());
  };
  if constexpr (is_optional<T>::value) {
    if (value.is_none()) return std::nullopt;
    return convert<typename T::value_type>(value, name);
  } else if constexpr (std::is_same_v<T, bool>) {
    if (!PyBool_Check(value.ptr())) return refuse();
    return value.ptr() == Py_True;
  } else if constexpr (std::is_integral_v<T>) {
    // bool is an int in Python; as a count or a size it is a mistake.
    if (PyBool_Check(value.ptr()) || !PyIndex_Check(value.ptr())) return refuse();
    const long long v = py::int_(py::reinterpret_borrow<py::object>(value)).cast<long long>();
    if constexpr (std::is_unsigned_v<T>)
      if (v < 0) throw UsageError(name, "must not be negative");
    return static_cast<T>(v);
  } else if constexpr (std::is_floating_point_v<T>) {
    if (PyBool_Check(value.ptr()) || !PyNumber_Check(value.ptr())) return refuse();
    return py::float_(py::reinterpret_borrow<py::object>(value)).cast<T>();
  } else if constexpr (std::is_same_v<T, std::string>) {
    return text(value, name);
  } else if constexpr (is_map<T>::value) {
    if (!py::isinstance<py::dict>(value)) return refuse();
    T out;
    for (auto [k, v] : py::reinterpret_borrow<py::dict>(value))
      out[convert<typename T::key_type>(k, name)] = convert<typename T::mapped_type>(v, name);
    return out;
  } else if constexpr (is_vector<T>::value) {
    using Item = typename T::value_type;
    // One value where a list is expected is a list of one (bands=4, scale=1/255).
    if (!py::isinstance<py::sequence>(value) || py::isinstance<py::str>(value)) {
      if constexpr (std::is_same_v<Item, std::string>) return T{convert<Item>(value, name)};
      else return T{convert<Item>(value, name)};
    }
    T out;
    for (py::handle item : value) out.push_back(convert<Item>(item, name));
    return out;
  } else {
    return refuse();
  }
}

// "256M", "1.5G" (parse_byte_size) or a number of bytes.
inline std::size_t byte_size(py::handle value, const std::string& name) {
  if (py::isinstance<py::str>(value)) {
    try {
      return parse_byte_size(value.cast<std::string>());
    } catch (const Error& e) {
      throw UsageError(name, e.message());
    }
  }
  return convert<std::size_t>(value, name);
}

// An optional value as Python sees it: the value, or None.
template <class T>
py::object optional_object(const std::optional<T>& v) {
  return v ? py::cast(*v) : py::none();
}

}  // namespace detail

template <class Options>
class OptionTable {
public:
  using Apply = std::function<void(Options&, py::handle)>;

  explicit OptionTable(std::string task) : task_(std::move(task)) {}

  // Where the task's programs default otherwise than the option struct, the programs win, so a
  // call from Python makes what the program makes (luojia-index applies band scales unless --raw).
  OptionTable& defaults(std::function<void(Options&)> set) {
    defaults_ = std::move(set);
    return *this;
  }

  // An option that is a field of Options or of a base of it (ModelTaskOptions).
  template <class T, class Base>
    requires std::is_base_of_v<Base, Options>
  OptionTable& field(const std::string& name, T Base::*member, const std::string& help) {
    return add(name, detail::kind_name<T>(), help,
               [member, name](Options& o, py::handle v) { o.*member = detail::convert<T>(v, name); });
  }
  // An option that is a field of a struct inside Options: inner(options) gives that struct.
  template <class Access, class Inner, class T>
  OptionTable& field(const std::string& name, Access inner, T Inner::*member, const std::string& help) {
    return add(name, detail::kind_name<T>(), help,
               [inner, member, name](Options& o, py::handle v) { inner(o).*member = detail::convert<T>(v, name); });
  }
  // An option whose value needs more than a conversion (an enum by name, a byte size).
  OptionTable& add(const std::string& name, const std::string& kind, const std::string& help, Apply apply) {
    entries_.push_back({name, kind, help, std::move(apply)});
    return *this;
  }

  // The options of kwargs applied in order; throws UsageError for a name the task does not take.
  Options parse(const py::dict& kwargs) const {
    Options options;
    if (defaults_) defaults_(options);
    for (auto [key, value] : kwargs) {
      const std::string name = py::str(key);
      const Entry* entry = find(name);
      if (!entry) {
        std::string known;
        for (const auto& e : entries_) known += (known.empty() ? "" : ", ") + e.name;
        throw UsageError(name, "is not an option of " + task_ + " (its options: " + known + ")");
      }
      entry->apply(options, value);
    }
    return options;
  }

  std::vector<std::string> names() const {
    std::vector<std::string> out;
    for (const auto& e : entries_) out.push_back(e.name);
    return out;
  }

  // "Options:" and one line per option, for the docstring.
  std::string doc() const {
    std::string s = "Options (keyword arguments, named as the library's option fields):\n";
    for (const auto& e : entries_) s += "    " + e.name + " (" + e.kind + "): " + e.help + "\n";
    return s;
  }

private:
  struct Entry {
    std::string name, kind, help;
    Apply apply;
  };
  const Entry* find(const std::string& name) const {
    for (const auto& e : entries_)
      if (e.name == name) return &e;
    return nullptr;
  }
  std::string task_;
  std::vector<Entry> entries_;
  std::function<void(Options&)> defaults_;
};

// The streaming options every task shares: threads and the memory budget. stream(options) gives
// the task's StreamOptions (a member, or one inside a nested struct).
template <class Options, class Access>
void add_stream_options(OptionTable<Options>& table, Access stream) {
  table.add("threads", "int", "worker threads (0: every core)", [stream](Options& o, py::handle v) {
    stream(o).threads = detail::convert<int>(v, "threads");
  });
  table.add("memory_budget", "str | int", "memory budget, \"256M\", \"1.5G\" or bytes (GDAL's cache included)",
            [stream](Options& o, py::handle v) { stream(o).memory_budget = detail::byte_size(v, "memory_budget"); });
}

// The raster product options: GDAL driver, creation options, overwrite.
template <class Options, class Access>
void add_output_options(OptionTable<Options>& table, Access output) {
  table.add("driver", "str", "GDAL driver of the raster products (GTiff, COG, ...; gdal_translate -of)",
            [output](Options& o, py::handle v) { output(o).driver = detail::convert<std::string>(v, "driver"); });
  table.add("creation_options", "list[str] | dict", "KEY=VALUE creation options (gdal_translate -co)",
            [output](Options& o, py::handle v) {
              auto& target = output(o).creation_options;
              target.clear();
              if (py::isinstance<py::dict>(v)) {
                for (auto [key, value] : v.cast<py::dict>())
                  target.push_back(py::str(key).cast<std::string>() + "=" + py::str(value).cast<std::string>());
              } else {
                target = detail::convert<std::vector<std::string>>(v, "creation_options");
              }
            });
  table.add("overwrite", "bool", "replace existing products", [output](Options& o, py::handle v) {
    output(o).overwrite = detail::convert<bool>(v, "overwrite");
  });
}

// Accessors for the two helpers above: member<&Options::stream>.
template <auto Member>
inline constexpr auto member = [](auto& o) -> auto& { return o.*Member; };

}  // namespace luojia::python
