// Reorg: space-to-depth with 2x2 blocks, n x c x h x w -> n x 4c x h/2 x w/2, in TensorFlow's
// channel order (output channel (dy*2 + dx)*c + ch), which crYOLO's weights were trained with.
#pragma once
#include "engine/layer.h"

namespace cupick {

class Reorg : public Layer {
 public:
  explicit Reorg(std::string name) : Layer(std::move(name)) {}
  const char* type() const override { return "reorg"; }

 protected:
  Shape infer(const std::vector<Shape>& in) const override;
  void forward_cpu(const Inputs& in, Tensor& out, Mode mode) override;
  void forward_gpu(Context& ctx, const Inputs& in, Tensor& out, Mode mode) override;
  void backward_cpu(const Inputs& in, const Tensor& out, const Tensor& dout, const InputGrads& din) override;
  void backward_gpu(Context& ctx, const Inputs& in, const Tensor& out, const Tensor& dout,
                    const InputGrads& din) override;
};

}  // namespace cupick
