// Concatenation along channels of one or more inputs that agree in N, H and W; the output's
// channels are the inputs' in input order (Keras Concatenate(axis=-1) on NHWC).
#pragma once
#include "engine/layer.h"

namespace cupick {

class Concat : public Layer {
 public:
  explicit Concat(std::string name) : Layer(std::move(name)) {}
  const char* type() const override { return "concat"; }

 protected:
  int arity() const override { return -1; }
  Shape infer(const std::vector<Shape>& in) const override;
  void forward_cpu(const Inputs& in, Tensor& out, Mode mode) override;
  void forward_gpu(Context& ctx, const Inputs& in, Tensor& out, Mode mode) override;
  void backward_cpu(const Inputs& in, const Tensor& out, const Tensor& dout, const InputGrads& din) override;
  void backward_gpu(Context& ctx, const Inputs& in, const Tensor& out, const Tensor& dout,
                    const InputGrads& din) override;
};

}  // namespace cupick
