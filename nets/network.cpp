#include "nets/network.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <memory>
#include <numbers>
#include <optional>
#include <random>
#include <sstream>

#include "engine/layers/batchnorm.h"
#include "engine/layers/conv.h"
#include "engine/layers/registry.h"

namespace cupick {
namespace {

using json = nlohmann::json;

std::string lower(std::string s) {
  for (char& c : s) c = char(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::string join(const std::vector<std::string>& items, const char* sep = ", ") {
  std::string s;
  for (size_t i = 0; i < items.size(); ++i) s += (i ? sep : "") + items[i];
  return s;
}

json parse(std::string_view text, const std::string& file) {
  try {
    return json::parse(text);
  } catch (const json::parse_error& e) {
    throw Error(file + ": not valid JSON: " + e.what());
  }
}

// Thrown by Block::fail, so that the builder does not prefix the file and block a second time.
struct DescriptionError : Error {
  using Error::Error;
};

// One block of a description, read with messages "<file>: layers[i] '<name>': key '<key>': ...".
struct Block {
  const std::string& file;
  size_t index;
  const json& j;
  std::string name;  // once read

  [[noreturn]] void fail(const std::string& what) const {
    std::string where = file + ": layers[" + std::to_string(index) + "]";
    if (!name.empty()) where += " '" + name + "'";
    throw DescriptionError(where + ": " + what);
  }
  [[noreturn]] void fail(const char* key, const std::string& what) const {
    fail("key '" + std::string(key) + "': " + what);
  }

  void allow_only(const std::string& type, const std::vector<std::string>& keys) const {
    for (const auto& item : j.items())
      if (std::find(keys.begin(), keys.end(), item.key()) == keys.end())
        fail("unknown key '" + item.key() + "' for a " + type + " block; allowed: " + join(keys));
  }
  std::optional<std::string> optional_text(const char* key) const {
    if (!j.contains(key)) return std::nullopt;
    if (!j[key].is_string() || j[key].get<std::string>().empty()) fail(key, "expected a non-empty string, got " + j[key].dump());
    return j[key].get<std::string>();
  }
  std::string text(const char* key) const {
    if (!j.contains(key)) fail(key, "missing");
    return *optional_text(key);
  }
  int positive(const char* key) const {
    if (!j.contains(key)) fail(key, "missing");
    if (!j[key].is_number_integer() || j[key].get<long long>() <= 0 || j[key].get<long long>() > 1 << 20)
      fail(key, "expected a positive integer, got " + j[key].dump());
    return j[key].get<int>();
  }
  // A conv's "filters": a positive integer, or "head" for the detection head's A * (5 + C).
  int filters(int head_filters) const {
    if (j.contains("filters") && j["filters"] == "head") return head_filters;
    if (j.contains("filters") && !j["filters"].is_number_integer())
      fail("filters", "expected a positive integer or \"head\", got " + j["filters"].dump());
    return positive("filters");
  }
  bool flag(const char* key, bool otherwise) const {
    if (!j.contains(key)) return otherwise;
    if (!j[key].is_boolean()) fail(key, "expected true or false, got " + j[key].dump());
    return j[key].get<bool>();
  }
  // The keys that type t reads, into the arguments of its layer.
  LayerArgs layer_args(const LayerType& t, const std::vector<int>& in_channels, int head_filters) const {
    LayerArgs args{name, in_channels};
    for (const std::string& key : t.keys) {
      if (key == "filters") args.filters = filters(head_filters);
      else if (key == "size") args.size = positive("size");
      else if (key == "bias") args.bias = flag("bias", false);
      else throw Error(std::string("network builder: layer type '") + t.type + "' takes key '" + key + "', unknown here");
    }
    return args;
  }
  // "input": a name or a list of names; the previous block's output when absent.
  std::vector<std::string> inputs(const std::string& previous) const {
    if (!j.contains("input")) return {previous};
    const json& in = j["input"];
    if (in.is_string()) return {in.get<std::string>()};
    std::vector<std::string> names;
    if (in.is_array())
      for (const json& n : in) {
        if (!n.is_string()) break;
        names.push_back(n.get<std::string>());
      }
    if (names.empty() || names.size() != in.size())
      fail("input", "expected a node name or a non-empty list of node names, got " + in.dump());
    return names;
  }
};

const std::vector<std::string> kTopKeys = {"name", "about", "layers"};

Graph build_description(const json& doc, const std::string& file, int input_channels, int head_filters) {
  if (!doc.is_object()) throw Error(file + ": expected an object with keys " + join(kTopKeys));
  for (const auto& item : doc.items())
    if (std::find(kTopKeys.begin(), kTopKeys.end(), item.key()) == kTopKeys.end())
      throw Error(file + ": unknown key '" + item.key() + "'; allowed: " + join(kTopKeys));
  if (!doc.contains("layers") || !doc["layers"].is_array() || doc["layers"].empty())
    throw Error(file + ": key 'layers': expected a non-empty list of blocks");

  Graph g;
  // Channels of every node so far: a conv's input channels, concat's sum, reorg's 4x.
  std::map<std::string, int> channels{{Graph::kInput, input_channels}};
  std::string previous = Graph::kInput;
  const json& layers = doc["layers"];
  for (size_t i = 0; i < layers.size(); ++i) {
    Block b{file, i, layers[i], ""};
    if (!b.j.is_object()) b.fail("expected an object with keys 'type', 'name', ...");
    b.name = b.text("name");
    const std::string type = b.text("type");
    const std::vector<std::string> in = b.inputs(previous);
    std::vector<int> in_channels;
    for (const std::string& n : in) {
      auto it = channels.find(n);
      if (it == channels.end()) b.fail("input", "'" + n + "' is neither 'input' nor a node named before");
      in_channels.push_back(it->second);
    }
    const LayerType* t = find_layer_type(type);
    if (!t) b.fail("type", "unknown type '" + type + "'; allowed: " + layer_type_list());
    // Any block may be followed by a batchnorm ("norm") and a leaky ReLU ("leaky") of those names,
    // as crYOLO follows its convolutions.
    std::vector<std::string> keys = {"type", "name", "input"};
    keys.insert(keys.end(), t->keys.begin(), t->keys.end());
    keys.insert(keys.end(), {"norm", "leaky"});
    b.allow_only(type, keys);
    if (t->inputs == 1 && in.size() != 1)
      b.fail("input", "a " + type + " block takes one input, got " + std::to_string(in.size()));
    LayerArgs args = b.layer_args(*t, in_channels, head_filters);
    // crYOLO's first layer is conv_1_depth1 on grey-level input, so that its ImageNet-pretrained
    // 3-channel conv_1 is never loaded by name into it.
    if (type == "conv" && in[0] == Graph::kInput && input_channels == 1) args.name += "_depth1";
    const std::optional<std::string> norm = b.optional_text("norm"), leaky = b.optional_text("leaky");

    // Adds one node; engine errors (bad kernel size, duplicate name) get the file and block in front.
    auto add = [&](const std::string& layer_type, LayerArgs a, const std::vector<std::string>& from) {
      try {
        Layer& layer = g.add(make_layer(layer_type, a), from);
        // Channels do not depend on height and width: ask the layer at any size it accepts.
        std::vector<Shape> shapes;
        for (int c : a.in_channels) shapes.push_back({1, c, 64, 64});
        channels[layer.name()] = layer.output_shape(shapes).c;
        previous = layer.name();
      } catch (const DescriptionError&) {
        throw;
      } catch (const Error& e) {
        b.fail(e.what());
      }
    };
    add(type, args, in);
    if (norm) add("batchnorm", {*norm, {channels[previous]}}, {previous});
    if (leaky) add("leaky_relu", {*leaky, {channels[previous]}}, {previous});
  }
  return g;
}

void check_counts(int input_channels, int num_anchors, int num_classes) {
  if (input_channels < 1 || num_anchors < 1 || num_classes < 1)
    throw Error("network: input channels, anchors and classes must be at least 1, got " +
                std::to_string(input_channels) + ", " + std::to_string(num_anchors) + ", " +
                std::to_string(num_classes));
}

// Repeatable draws from a 32-bit Mersenne twister (its sequence is fixed by the standard, unlike
// std::uniform_real_distribution's and std::normal_distribution's output).
struct Draws {
  std::mt19937 bits;
  explicit Draws(unsigned seed) : bits(seed) {}
  // Uniform in (0, 1), never 0 or 1.
  double open01() { return (double(bits()) + 0.5) / 4294967296.0; }
  double uniform(double lo, double hi) { return lo + (hi - lo) * open01(); }
  // Box-Muller, the cosine half.
  double normal() {
    const double r = std::sqrt(-2 * std::log(open01()));
    return r * std::cos(2 * std::numbers::pi * open01());
  }
};

// Writes host values into a parameter wherever it lives and whatever its real type.
void assign(Param& p, const std::vector<double>& v) {
  Tensor host = Tensor::from<double>(v, p.value.shape());
  if (p.value.dtype() != DType::f64) host = host.to(p.value.dtype());
  p.value.copy_from(host);
}

std::string thousands(size_t n) {
  std::string digits = std::to_string(n), out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return out;
}

size_t param_count(Layer& layer, bool trainable_only) {
  size_t n = 0;
  for (Param* p : layer.params())
    if (p->trainable || !trainable_only) n += p->value.count();
  return n;
}

}  // namespace

Graph build_network_from_text(std::string_view text, const std::string& file, int input_channels, int num_anchors,
                              int num_classes) {
  check_counts(input_channels, num_anchors, num_classes);
  return build_description(parse(text, file), file, input_channels, num_anchors * (5 + num_classes));
}

Graph build_network(const std::string& architecture, int input_channels, int num_anchors, int num_classes) {
  if (architecture.size() > 5 && lower(architecture.substr(architecture.size() - 5)) == ".json") {
    std::ifstream f(architecture, std::ios::binary);
    if (!f) throw Error(architecture + ": cannot read the network description (" + std::strerror(errno) + ")");
    std::stringstream text;
    text << f.rdbuf();
    return build_network_from_text(text.str(), architecture, input_channels, num_anchors, num_classes);
  }
  const std::vector<std::string> names = network_names();
  for (size_t i = 0; i < names.size(); ++i)
    if (lower(names[i]) == lower(architecture)) {
      const NetworkText& t = embedded_networks()[i];
      return build_network_from_text(t.json, std::string(t.file), input_channels, num_anchors, num_classes);
    }
  throw Error("unknown architecture '" + architecture + "'; allowed: " + join(names) +
              ", or a path to a .json network description");
}

void check_input_size(Shape input) {
  if (input.n < 1 || input.c < 1 || input.h < 32 || input.w < 32 || input.h % 32 || input.w % 32)
    throw Error("network input " + input.str() + " (NxCxHxW): height and width must be positive multiples of 32");
}

void initialize(Graph& graph, Shape input, unsigned seed) {
  check_input_size(input);
  const Shape out = graph.shapes(input).back();
  const double grid = double(out.h) * out.w;
  Draws draw(seed);
  for (size_t i = 0; i < graph.size(); ++i) {
    Layer& layer = graph.layer(i);
    if (auto* conv = dynamic_cast<Conv2D*>(&layer)) {
      const bool head = i + 1 == graph.size();
      const double k2 = double(conv->kernel_size()) * conv->kernel_size();
      const double limit = std::sqrt(6 / (k2 * conv->in_channels() + k2 * conv->out_channels()));
      for (Param* p : conv->params()) {
        std::vector<double> v(p->value.count(), 0.0);
        if (head)
          for (double& x : v) x = draw.normal() / grid;
        else if (p->name == "kernel")
          for (double& x : v) x = draw.uniform(-limit, limit);
        assign(*p, v);
      }
    } else if (auto* norm = dynamic_cast<BatchNorm*>(&layer)) {
      for (Param* p : norm->params()) {
        const bool one = p->name == "gamma" || p->name == "moving_variance";
        assign(*p, std::vector<double>(p->value.count(), one ? 1.0 : 0.0));
      }
    }
  }
}

NetworkSize network_size(Graph& graph, Shape input) {
  const std::vector<Shape> shapes = graph.shapes(input);
  NetworkSize s;
  for (size_t i = 0; i < graph.size(); ++i) {
    Layer& layer = graph.layer(i);
    s.params += param_count(layer, false);
    s.trainable += param_count(layer, true);
    s.gflop += 1e-9 * layer.flop(shapes[i]);
  }
  return s;
}

std::string summary(Graph& graph, Shape input) {
  check_input_size(input);
  const std::vector<Shape> shapes = graph.shapes(input);
  std::vector<std::vector<std::string>> rows = {{"Layer (type)", "Output shape", "Param #", "Connected to"}};
  for (size_t i = 0; i < graph.size(); ++i) {
    Layer& layer = graph.layer(i);
    rows.push_back({layer.name() + " (" + layer.type() + ")", shapes[i].str(), thousands(param_count(layer, false)),
                    join(graph.inputs(i))});
  }
  std::vector<size_t> width(4, 0);
  for (const auto& r : rows)
    for (size_t c = 0; c < 4; ++c) width[c] = std::max(width[c], r[c].size());
  std::string out, rule;
  auto pad = [](const std::string& s, size_t w, bool right) {
    const std::string space(w - s.size(), ' ');
    return right ? space + s : s + space;
  };
  for (size_t r = 0; r < rows.size(); ++r) {
    std::string line = pad(rows[r][0], width[0], false) + "  " + pad(rows[r][1], width[1], false) + "  " +
                       pad(rows[r][2], width[2], true) + "  " + rows[r][3];
    if (r == 0) rule.assign(width[0] + width[1] + width[2] + width[3] + 6, '=');
    out += line + "\n";
    if (r == 0) out += rule + "\n";
  }
  const NetworkSize s = network_size(graph, input);
  char gflop[128];
  std::snprintf(gflop, sizeof gflop, "%.1f", s.gflop);
  out += rule + "\n";
  out += "Total params: " + thousands(s.params) + "\n";
  out += "Trainable params: " + thousands(s.trainable) + "\n";
  out += "Non-trainable params: " + thousands(s.params - s.trainable) + "\n";
  out += "Forward: " + std::string(gflop) + " GFLOP for input " + input.str() +
         " (2 x multiply-adds of the convolutions)\n";
  return out;
}

}  // namespace cupick
