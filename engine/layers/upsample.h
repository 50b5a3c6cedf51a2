// Nearest-neighbour 2x upsampling, Keras UpSampling2D(2): n x c x h x w -> n x c x 2h x 2w.
#pragma once
#include "engine/layer.h"

namespace cupick {

class Upsample : public Layer {
 public:
  explicit Upsample(std::string name) : Layer(std::move(name)) {}
  const char* type() const override { return "upsample"; }

 protected:
  Shape infer(const std::vector<Shape>& in) const override;
  void forward_cpu(const Inputs& in, Tensor& out, Mode mode) override;
  void forward_gpu(Context& ctx, const Inputs& in, Tensor& out, Mode mode) override;
  void backward_cpu(const Inputs& in, const Tensor& out, const Tensor& dout, const InputGrads& din) override;
  void backward_gpu(Context& ctx, const Inputs& in, const Tensor& out, const Tensor& dout,
                    const InputGrads& din) override;
};

}  // namespace cupick
