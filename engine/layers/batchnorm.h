// Batch normalisation per channel over N, H, W, as Keras's BatchNormalization (crYOLO puts one after
// every convolution but the last). Train mode normalises with the batch statistics and updates the
// moving ones; infer mode normalises with the moving statistics and updates nothing.
#pragma once
#include "engine/layer.h"

namespace cupick {

class BatchNorm : public Layer {
 public:
  BatchNorm(std::string name, int channels, double momentum = 0.99, double epsilon = 1e-3);
  const char* type() const override { return "batchnorm"; }
  int channels() const { return channels_; }
  double momentum() const { return momentum_; }
  double epsilon() const { return epsilon_; }

  // gamma, beta (trainable), moving_mean, moving_variance (not trainable); each 1 x channels x 1 x 1.
  std::vector<Param*> params() override { return {&gamma_, &beta_, &moving_mean_, &moving_variance_}; }

 protected:
  Shape infer(const std::vector<Shape>& in) const override;
  void forward_cpu(const Inputs& in, Tensor& out, Mode mode) override;
  void forward_gpu(Context& ctx, const Inputs& in, Tensor& out, Mode mode) override;
  void backward_cpu(const Inputs& in, const Tensor& out, const Tensor& dout, const InputGrads& din) override;
  void backward_gpu(Context& ctx, const Inputs& in, const Tensor& out, const Tensor& dout,
                    const InputGrads& din) override;
  void on_moved(Device device, DType dtype) override;

 private:
  void require_forward() const;

  int channels_;
  double momentum_, epsilon_;
  Param gamma_, beta_, moving_mean_, moving_variance_;
  // What backward needs from the last forward: the mean and 1 / sqrt(var + eps) it normalised with
  // (batch or moving statistics), and which of the two that was.
  Tensor save_mean_, save_inv_std_;
  Mode saved_mode_ = Mode::train;
  bool saved_ = false;  // a forward ran since the last to()
};

}  // namespace cupick
