// A network as a list of named nodes, each a layer with named inputs, executed in the order added.
// "input" names the graph's input (the micrographs); the last node's output is the graph's output,
// and every other node's output must be read by a later node (else forward throws ShapeError).
//
// The graph owns activation memory. It plans buffers once per (input shape, mode, type, device):
// in training every node output is kept for backward; in inference a buffer is handed to the next
// node as soon as its last reader has run, so a deep network needs only a few buffers. Nothing is
// allocated inside forward or backward once the plan exists.
//
// Inference on the host in float folds conv -> batchnorm [-> leaky ReLU] into one pass
// (Conv2D::forward_folded) where the conv's and the batchnorm's outputs have no other reader: the
// folded nodes' own outputs are then not written.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "engine/layer.h"

namespace cupick {

struct NamedParam {
  std::string name;  // "<layer>/<param>", e.g. "conv_1_depth1/kernel"
  Param* param;
};

class Graph {
 public:
  static constexpr const char* kInput = "input";

  // Appends a node named after its layer. Inputs must be "input" or nodes added before: the order
  // of addition is the order of execution.
  Layer& add(std::unique_ptr<Layer> layer, std::vector<std::string> inputs);
  template <class L, class... Args>
  L& add(std::vector<std::string> inputs, Args&&... args) {
    return static_cast<L&>(add(std::make_unique<L>(std::forward<Args>(args)...), std::move(inputs)));
  }

  size_t size() const { return nodes_.size(); }
  Layer& layer(size_t i) { return *nodes_[i].layer; }
  const std::vector<std::string>& inputs(size_t i) const { return nodes_[i].inputs; }
  Layer* find(const std::string& name);

  // Output shape of every node for this input shape (ShapeError names the first bad node).
  std::vector<Shape> shapes(Shape input) const;
  std::vector<NamedParam> params();
  // Moves every layer's parameters; drops the activation plan.
  void to(Device device, DType dtype = DType::f32);

  // Runs every node. The result is valid until the next forward. In train mode the graph keeps
  // every activation and a pointer to `input`: keep `input` alive and unchanged until backward.
  const Tensor& forward(Context& ctx, const Tensor& input, Mode mode);
  // From d(loss)/d(output) of the last train-mode forward: fills every parameter gradient, and
  // d(loss)/d(input) when `dinput` is given.
  void backward(Context& ctx, const Tensor& doutput, Tensor* dinput = nullptr);
  // The kept output of a node after a train-mode forward (tests, debugging).
  const Tensor& activation(const std::string& name) const;

  // Bytes of activation (and, in training, gradient) buffers in the current plan.
  size_t planned_bytes() const;
  // Convs that host inference in float runs with the next nodes folded in, in the current plan.
  size_t folds() const;

 private:
  struct Node {
    std::unique_ptr<Layer> layer;
    std::vector<std::string> inputs;
    std::vector<int> input_ids;  // -1 is the graph input
    Shape shape;
    Tensor out, grad;            // views into the planned buffers
    int out_slot = -1, grad_slot = -1;
    // A conv that the next nodes fold into (host inference): the last of them; else its own index.
    size_t fold_end = 0;
  };
  struct Plan {
    Shape input;
    Mode mode;
    Device device;
    DType dtype;
    bool valid = false;
  };
  void plan(const Tensor& input, Mode mode);
  void find_folds(const std::vector<int>& readers);
  void forward_folded(size_t i, const Tensor& x);
  [[noreturn]] void fail_node(size_t i, const std::string& what) const;

  std::vector<Node> nodes_;
  Plan plan_;
  std::vector<std::shared_ptr<Buffer>> buffers_;
  const Tensor* last_input_ = nullptr;
  bool have_train_forward_ = false;
};

}  // namespace cupick
