// Batch normalisation per channel over N, H, W, as Keras's BatchNormalization (crYOLO puts one after
// every convolution but the last). Train mode normalises with the batch statistics and updates the
// moving ones; infer mode (and a frozen layer) normalises with the moving statistics and updates nothing.
//
// The moving statistics follow Keras 2.2 on TensorFlow 1 (kernels/batchnorm.h): zero-debiased
// averages of the batch statistics, so after t train forwards they are the momentum-weighted average
// of those t batches alone. Whatever they held before the first of them (Keras's initial 0 and 1,
// loaded weights) is not blended in; after one train forward they are that batch's statistics.
#pragma once
#include <cstdint>

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

  // Restarts the moving averages: the next train forward sets the moving statistics to its batch's.
  // to() does this too; loading weights does not. Call it after loading weights in the middle of
  // training for the new run's averages to start afresh (else they go on from the old run's batches;
  // the loaded moving values are dropped at the next train forward either way). Keras keeps this
  // state outside the weights as well: it starts at zero in a fresh session and load_weights leaves it.
  void reset_moving_average();
  int64_t moving_average_steps() const { return steps_; }  // train forwards since the last reset

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
  // Counts one more moving-average update and returns its 1 - momentum^t (computed in double here).
  double next_debias();

  int channels_;
  double momentum_, epsilon_;
  Param gamma_, beta_, moving_mean_, moving_variance_;
  // The moving averages' hidden state (TensorFlow's "biased" and "local_step"; not in weight files):
  // biased_ is 2 x channels x 1 x 1, the mean's biased average then the variance's, on the parameters'
  // device and type; steps_ counts the train forwards that updated them.
  Tensor biased_;
  int64_t steps_ = 0;
  // What backward needs from the last forward: the mean and 1 / sqrt(var + eps) it normalised with
  // (batch or moving statistics), and which of the two that was.
  Tensor save_mean_, save_inv_std_;
  Mode saved_mode_ = Mode::train;
  bool saved_ = false;  // a forward ran since the last to()
};

}  // namespace cupick
