// Leaky ReLU, element-wise. crYOLO uses slope 0.1 after every batchnorm.
#pragma once
#include "engine/layer.h"

namespace cupick {

class LeakyReLU : public Layer {
 public:
  explicit LeakyReLU(std::string name, float slope = 0.1f) : Layer(std::move(name)), slope_(slope) {}
  const char* type() const override { return "leaky_relu"; }
  float slope() const { return slope_; }

 protected:
  Shape infer(const std::vector<Shape>& in) const override { return in[0]; }
  void forward_cpu(const Inputs& in, Tensor& out, Mode mode) override;
  void forward_gpu(Context& ctx, const Inputs& in, Tensor& out, Mode mode) override;
  void backward_cpu(const Inputs& in, const Tensor& out, const Tensor& dout, const InputGrads& din) override;
  void backward_gpu(Context& ctx, const Inputs& in, const Tensor& out, const Tensor& dout,
                    const InputGrads& din) override;

 private:
  float slope_;
};

}  // namespace cupick
