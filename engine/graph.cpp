#include "engine/graph.h"

#include <algorithm>
#include <map>

#include "engine/layers/batchnorm.h"
#include "engine/layers/conv.h"
#include "engine/layers/leaky_relu.h"
#include "kernels/batchnorm.h"

namespace cupick {

void Graph::fail_node(size_t i, const std::string& what) const {
  throw ShapeError("graph node " + std::to_string(i + 1) + " '" + nodes_[i].layer->name() + "': " + what);
}

Layer& Graph::add(std::unique_ptr<Layer> layer, std::vector<std::string> inputs) {
  Node node;
  node.layer = std::move(layer);
  node.inputs = std::move(inputs);
  nodes_.push_back(std::move(node));
  const size_t i = nodes_.size() - 1;
  Node& n = nodes_.back();
  try {
    if (n.layer->name() == kInput) fail_node(i, "the name 'input' is reserved for the graph input");
    for (size_t j = 0; j < i; ++j)
      if (nodes_[j].layer->name() == n.layer->name()) fail_node(i, "duplicate node name");
    if (n.inputs.empty()) fail_node(i, "no inputs");
    for (const std::string& in : n.inputs) {
      if (in == kInput) {
        n.input_ids.push_back(-1);
        continue;
      }
      int found = -1;
      for (size_t j = 0; j < i; ++j)
        if (nodes_[j].layer->name() == in) found = int(j);
      if (found < 0) fail_node(i, "input '" + in + "' is not the graph input nor a node added before");
      n.input_ids.push_back(found);
    }
  } catch (...) {
    nodes_.pop_back();
    throw;
  }
  plan_.valid = false;
  return *n.layer;
}

Layer* Graph::find(const std::string& name) {
  for (Node& n : nodes_)
    if (n.layer->name() == name) return n.layer.get();
  return nullptr;
}

std::vector<Shape> Graph::shapes(Shape input) const {
  std::vector<Shape> out;
  for (const Node& n : nodes_) {
    std::vector<Shape> in;
    for (int id : n.input_ids) in.push_back(id < 0 ? input : out[id]);
    out.push_back(n.layer->output_shape(in));
  }
  return out;
}

std::vector<NamedParam> Graph::params() {
  std::vector<NamedParam> out;
  for (Node& n : nodes_)
    for (Param* p : n.layer->params()) out.push_back({n.layer->name() + "/" + p->name, p});
  return out;
}

void Graph::to(Device device, DType dtype) {
  for (Node& n : nodes_) n.layer->to(device, dtype);
  plan_.valid = false;
}

// Greedy slot assignment: a slot is a buffer size; a freed slot is reused by the next tensor that
// fits (the smallest such), or grown if none fits. Sizes are 256-byte aligned.
namespace {
struct SlotPlanner {
  std::vector<size_t> size;
  std::vector<bool> busy;
  int take(size_t bytes) {
    bytes = (bytes + 255) / 256 * 256;
    int best = -1;
    for (size_t s = 0; s < size.size(); ++s)
      if (!busy[s] && size[s] >= bytes && (best < 0 || size[s] < size[best])) best = int(s);
    if (best < 0)  // grow the largest free slot, or open a new one
      for (size_t s = 0; s < size.size(); ++s)
        if (!busy[s] && (best < 0 || size[s] > size[best])) best = int(s);
    if (best < 0) {
      size.push_back(0);
      busy.push_back(false);
      best = int(size.size() - 1);
    }
    size[best] = std::max(size[best], bytes);
    busy[best] = true;
    return best;
  }
  void give(int s) { busy[s] = false; }
};
}  // namespace

void Graph::plan(const Tensor& input, Mode mode) {
  const Shape& s = input.shape();
  if (plan_.valid && plan_.device == input.device() && plan_.dtype == input.dtype() && s.c == plan_.input.c &&
      s.h == plan_.input.h && s.w == plan_.input.w && s.n <= plan_.input.n &&
      (mode == Mode::infer || plan_.mode == Mode::train)) {
    // The buffers fit: a smaller batch, or inference on a training plan (which keeps more than
    // inference needs). Only the views change, so validation between training epochs allocates nothing.
    if (nodes_.front().out.shape().n != s.n) {
      const std::vector<Shape> out_shapes = shapes(s);
      for (size_t i = 0; i < nodes_.size(); ++i) {
        Node& node = nodes_[i];
        node.shape = out_shapes[i];
        node.out = Tensor(buffers_[node.out_slot], 0, node.shape, input.dtype());
        if (node.grad_slot >= 0) node.grad = Tensor(buffers_[node.grad_slot], 0, node.shape, input.dtype());
      }
    }
    return;
  }
  if (nodes_.empty()) throw ShapeError("graph: no nodes");
  const std::vector<Shape> out_shapes = shapes(input.shape());
  const size_t n = nodes_.size(), elem = dtype_size(input.dtype());

  std::vector<int> readers(n, 0);
  for (size_t i = 0; i < n; ++i)
    for (int id : nodes_[i].input_ids)
      if (id >= 0) ++readers[id];
  for (size_t i = 0; i < n; ++i) nodes_[i].fold_end = i;
  if (input.device() == Device::cpu && input.dtype() == DType::f32) find_folds(readers);

  // Last reader of each node's output; the graph output is read after the last node. An output
  // nobody reads would get no gradient to run its backward with. A folded conv reads its input
  // while it writes the last folded node's output: its input lives until then.
  std::vector<size_t> last_read(n, 0);
  for (size_t i = 0; i < n; ++i)
    for (int id : nodes_[i].input_ids)
      if (id >= 0) last_read[id] = std::max(last_read[id], nodes_[i].fold_end);
  last_read[n - 1] = n;
  for (size_t i = 0; i < n; ++i)
    if (last_read[i] == 0) fail_node(i, "no node reads its output (only the last node's is the graph's output)");
  std::vector<std::vector<int>> released_after(n);  // in inference, a buffer is free after its last reader
  for (size_t i = 0; i + 1 < n; ++i) released_after[last_read[i]].push_back(int(i));

  SlotPlanner slots;
  for (size_t i = 0; i < n; ++i) {
    nodes_[i].shape = out_shapes[i];
    nodes_[i].out_slot = slots.take(out_shapes[i].count() * elem);
    nodes_[i].grad_slot = -1;
    if (mode == Mode::infer)
      for (int id : released_after[i]) slots.give(nodes_[id].out_slot);
  }
  if (mode == Mode::train) {
    // Gradients in reverse: a node's output gradient is made by its last reader (the first to run
    // backward) and released once the node's own backward has run.
    nodes_[n - 1].grad_slot = slots.take(out_shapes[n - 1].count() * elem);
    for (size_t i = n; i-- > 0;) {
      for (int id : nodes_[i].input_ids)
        if (id >= 0 && nodes_[id].grad_slot < 0) nodes_[id].grad_slot = slots.take(out_shapes[id].count() * elem);
      slots.give(nodes_[i].grad_slot);
    }
  }

  buffers_.clear();
  for (size_t bytes : slots.size) buffers_.push_back(std::make_shared<Buffer>(bytes, input.device()));
  for (Node& node : nodes_) {
    node.out = Tensor(buffers_[node.out_slot], 0, node.shape, input.dtype());
    node.grad = node.grad_slot >= 0 ? Tensor(buffers_[node.grad_slot], 0, node.shape, input.dtype()) : Tensor();
  }
  plan_ = {input.shape(), mode, input.device(), input.dtype(), true};
}

size_t Graph::folds() const {
  size_t n = 0;
  for (size_t i = 0; i < nodes_.size(); ++i) n += nodes_[i].fold_end > i;
  return n;
}

// conv -> batchnorm [-> leaky ReLU], each output read by the next node alone.
void Graph::find_folds(const std::vector<int>& readers) {
  auto reads_only = [&](size_t next, size_t i) {
    return next < nodes_.size() && nodes_[next].input_ids == std::vector<int>{int(i)} && readers[i] == 1;
  };
  for (size_t i = 0; i < nodes_.size(); ++i) {
    if (!dynamic_cast<Conv2D*>(nodes_[i].layer.get()) || !reads_only(i + 1, i) ||
        !dynamic_cast<BatchNorm*>(nodes_[i + 1].layer.get()))
      continue;
    size_t end = i + 1;
    if (reads_only(i + 2, i + 1) && dynamic_cast<LeakyReLU*>(nodes_[i + 2].layer.get())) end = i + 2;
    nodes_[i].fold_end = end;
    i = end;
  }
}

// Batchnorm in inference is y = scale x + shift per channel, with scale = gamma / sqrt(var + eps) and
// shift = beta - mean scale from its moving statistics: the conv writes that, and the leaky ReLU, itself.
void Graph::forward_folded(size_t i, const Tensor& x) {
  auto& conv = static_cast<Conv2D&>(*nodes_[i].layer);
  auto& norm = static_cast<BatchNorm&>(*nodes_[i + 1].layer);
  const std::vector<Param*> p = norm.params();  // gamma, beta, moving mean, moving variance
  const float *gamma = p[0]->value.data<float>(), *beta = p[1]->value.data<float>();
  const float *mean = p[2]->value.data<float>(), *var = p[3]->value.data<float>();
  std::vector<float> scale(norm.channels()), shift(norm.channels());
  for (int c = 0; c < norm.channels(); ++c) {
    scale[c] = gamma[c] * float(kernels::batchnorm_inv_std(var[c], norm.epsilon()));
    shift[c] = beta[c] - mean[c] * scale[c];
  }
  const size_t end = nodes_[i].fold_end;
  const float slope = end == i + 2 ? static_cast<LeakyReLU&>(*nodes_[end].layer).slope() : 1.f;
  conv.forward_folded(x, nodes_[end].out, scale.data(), shift.data(), slope);
}

const Tensor& Graph::forward(Context& ctx, const Tensor& input, Mode mode) {
  plan(input, mode);
  const bool fold = mode == Mode::infer && !ctx.on_gpu() && input.dtype() == DType::f32;
  for (size_t i = 0; i < nodes_.size(); ++i) {
    Node& node = nodes_[i];
    Inputs in;
    for (int id : node.input_ids) in.push_back(id < 0 ? &input : &nodes_[id].out);
    if (fold && node.fold_end > i) {
      forward_folded(i, *in[0]);
      i = node.fold_end;
      continue;
    }
    node.layer->forward(ctx, in, node.out, mode);
  }
  last_input_ = &input;
  have_train_forward_ = mode == Mode::train;
  return nodes_.back().out;
}

void Graph::backward(Context& ctx, const Tensor& doutput, Tensor* dinput) {
  if (!have_train_forward_) throw Error("graph: backward needs a forward in train mode just before it");
  Node& last = nodes_.back();
  if (doutput.shape() != last.shape)
    throw ShapeError("graph: output gradient " + doutput.shape().str() + " for output " + last.shape.str());
  last.grad.copy_from(doutput);
  if (dinput && (dinput->shape() != last_input_->shape() || dinput->device() != last_input_->device()))
    throw ShapeError("graph: input gradient " + dinput->str() + " for input " + last_input_->str());

  // A gradient is overwritten by the first reader to run backward (the last in order), then
  // accumulated by the others.
  std::vector<bool> written(nodes_.size(), false);
  bool input_written = false;
  for (size_t i = nodes_.size(); i-- > 0;) {
    Node& node = nodes_[i];
    Inputs in;
    InputGrads din;
    for (int id : node.input_ids) {
      if (id < 0) {
        in.push_back(last_input_);
        din.push_back({dinput, input_written ? GradMode::accumulate : GradMode::overwrite});
        input_written = input_written || dinput;
      } else {
        in.push_back(&nodes_[id].out);
        din.push_back({&nodes_[id].grad, written[id] ? GradMode::accumulate : GradMode::overwrite});
        written[id] = true;
      }
    }
    node.layer->backward(ctx, in, node.out, node.grad, din);
  }
}

const Tensor& Graph::activation(const std::string& name) const {
  if (!have_train_forward_) throw Error("graph: activations are kept only after a train-mode forward");
  for (const Node& n : nodes_)
    if (n.layer->name() == name) return n.out;
  throw Error("graph: no node named '" + name + "'");
}

size_t Graph::planned_bytes() const {
  size_t total = 0;
  for (const auto& b : buffers_) total += b->bytes();
  return total;
}

}  // namespace cupick
