// 2x2 max pooling, stride 2, Keras "valid" padding (crYOLO's MaxPooling2D): an odd last row or
// column is dropped. Backward recomputes each window's argmax from the input (first maximum in
// row-major window order on ties), so nothing is stored between forward and backward.
#pragma once
#include "engine/layer.h"

namespace cupick {

class MaxPool : public Layer {
 public:
  explicit MaxPool(std::string name) : Layer(std::move(name)) {}
  const char* type() const override { return "maxpool"; }

 protected:
  Shape infer(const std::vector<Shape>& in) const override;
  void forward_cpu(const Inputs& in, Tensor& out, Mode mode) override;
  void forward_gpu(Context& ctx, const Inputs& in, Tensor& out, Mode mode) override;
  void backward_cpu(const Inputs& in, const Tensor& out, const Tensor& dout, const InputGrads& din) override;
  void backward_gpu(Context& ctx, const Inputs& in, const Tensor& out, const Tensor& dout,
                    const InputGrads& din) override;
};

}  // namespace cupick
