// The layer interface. A layer checks and infers shapes, runs forward and backward on the host (the
// reference, in float or double) or on a GPU (float), and exposes named parameters with gradients.
//
// Life cycle, as in Caffe: construct with fixed hyper-parameters; output_shape() for any input
// shapes; forward(); backward() with the same inputs and output. State that backward needs beyond
// inputs and output (batchnorm's batch statistics) is kept by the layer from its last forward.
#pragma once
#include <string>
#include <vector>

#include "engine/context.h"
#include "engine/tensor.h"

namespace cupick {

enum class Mode { train, infer };  // batchnorm: batch or moving statistics; train updates the latter

// How backward writes an input gradient. One output can feed several layers: the first to run
// backward overwrites the gradient, the others add to it.
enum class GradMode { overwrite, accumulate };

struct InputGrad {
  Tensor* tensor = nullptr;  // nullptr: this input needs no gradient (the micrograph itself)
  GradMode mode = GradMode::overwrite;
};

struct Param {
  std::string name;  // Keras's names: kernel, bias, gamma, beta, moving_mean, moving_variance
  Tensor value;
  Tensor grad;             // same shape as value; made by the first backward, never when not trainable
  bool trainable = true;  // batchnorm's moving statistics are parameters, but not trained
};

using Inputs = std::vector<const Tensor*>;
using InputGrads = std::vector<InputGrad>;

class Layer {
 public:
  explicit Layer(std::string name) : name_(std::move(name)) {}
  virtual ~Layer() = default;
  Layer(const Layer&) = delete;
  Layer& operator=(const Layer&) = delete;

  const std::string& name() const { return name_; }
  virtual const char* type() const = 0;

  // Output shape for these input shapes; a ShapeError naming the layer and the shapes otherwise.
  Shape output_shape(const std::vector<Shape>& in) const;

  virtual std::vector<Param*> params() { return {}; }
  // Floating-point operations of one forward that gives `out` (2 per multiply-add), for sizes and
  // benchmarks; 0 for the layers that only move memory.
  virtual double flop(const Shape& /*out*/) const { return 0; }
  // Moves (and, on the host, converts) the parameters; their gradients are dropped and made again,
  // beside them, by the next backward.
  void to(Device device, DType dtype = DType::f32);

  // A frozen layer runs in Mode::infer whatever it is asked (batchnorm keeps its moving statistics)
  // and its parameters are not trained; fine-tuning freezes all but the last layers.
  void freeze(bool frozen = true) { frozen_ = frozen; }
  bool frozen() const { return frozen_; }

  // `out` must already have output_shape(), on ctx's device, of the inputs' type.
  void forward(Context& ctx, const Inputs& in, Tensor& out, Mode mode);
  // Writes the input gradients as each InputGrad says, and overwrites the parameter gradients
  // (allocating them on the first call).
  void backward(Context& ctx, const Inputs& in, const Tensor& out, const Tensor& dout, const InputGrads& din);

 protected:
  // Number of inputs; -1 for "one or more" (concat).
  virtual int arity() const { return 1; }
  // Only called with the right number of inputs; throws via fail() on bad shapes.
  virtual Shape infer(const std::vector<Shape>& in) const = 0;
  virtual void forward_cpu(const Inputs& in, Tensor& out, Mode mode) = 0;
  virtual void forward_gpu(Context& ctx, const Inputs& in, Tensor& out, Mode mode) = 0;
  virtual void backward_cpu(const Inputs& in, const Tensor& out, const Tensor& dout, const InputGrads& din) = 0;
  virtual void backward_gpu(Context& ctx, const Inputs& in, const Tensor& out, const Tensor& dout,
                            const InputGrads& din) = 0;
  // Called by to() after the parameters moved: layers with private state move it too.
  virtual void on_moved(Device, DType) {}

  // Throws ShapeError: "<name> (<type>): <what>; inputs [1x3x8x8, ...]".
  [[noreturn]] void fail(const std::string& what, const std::vector<Shape>& in) const;

 private:
  void check(const Context& ctx, const Inputs& in, const Tensor& out, const char* stage) const;
  std::string name_;
  bool frozen_ = false;
};

// Runs f(T{}) with T = float or double for a host tensor's type: the CPU reference is written once
// as a template.
template <class F>
void dispatch_real(DType t, F&& f) {
  if (t == DType::f32) f(float{});
  else if (t == DType::f64) f(double{});
  else throw Error(std::string("the CPU path does not support ") + dtype_name(t));
}

// y = (accumulate ? y : 0) + g, the one place where GradMode turns into arithmetic on the host.
template <class T>
inline void write_grad(T& y, T g, GradMode mode) {
  y = mode == GradMode::accumulate ? y + g : g;
}

}  // namespace cupick
