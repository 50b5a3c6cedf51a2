// Batch normalisation per channel over N, H, W (Keras BatchNormalization, NCHW, axis 1).
// The per-element and per-channel formulas are shared by the CUDA kernels and the CPU reference.
#pragma once
#include <cmath>

#include "kernels/common.h"

namespace cupick::kernels {

// Per-channel scalars are computed in double on both paths (statistics, moving averages), then
// stored in the tensor's type: the two paths then agree to the rounding of that type.

// 1 / sqrt(var + eps).
CUPICK_HD double batchnorm_inv_std(double var, double eps) { return 1.0 / sqrt(var + eps); }
// The variance Keras 2.2 (TensorFlow 1 backend) averages into moving_variance, from the biased batch
// variance `var` over m = N*H*W values. Two factors, applied one after the other in Keras:
// - crYOLO's 4-D channels-last inputs go through tf.nn.fused_batch_norm (Keras's
//   normalize_batch_in_training), whose training-mode variance is already Bessel-corrected,
//   var * m / (m - 1): TensorFlow's CPU kernel multiplies by that, cuDNN's running variance is unbiased;
// - BatchNormalization.call then multiplies by m / (m - (1 + epsilon)), its own "sample variance".
// m = 1: the batch variance is 0 and stays 0 (the factors would divide by about 0).
CUPICK_HD double batchnorm_keras_variance(double var, double m, double eps) {
  return m > 1 ? var * (m / (m - 1)) * (m / (m - (1 + eps))) : var;
}
// One update of a moving statistic from this batch's `value`, as Keras 2.2's K.moving_average_update,
// which is TensorFlow 1's assign_moving_average(moving, value, momentum, zero_debias=True): a hidden
// `biased` average starts at 0 and the moving value is it divided by `debias` = 1 - momentum^t after t
// updates (t counted by the caller). The moving value is thus the weighted average of the batches
// seen so far, whatever it held before: after one update, the first batch's value. Returns the moving
// value and updates `biased`.
CUPICK_HD double batchnorm_moving(double& biased, double value, double momentum, double debias) {
  biased = momentum * biased + (1 - momentum) * value;
  return biased / debias;
}

// The normalised input.
template <class T>
CUPICK_HD T batchnorm_xhat(T x, T mean, T inv_std) { return (x - mean) * inv_std; }
// y = gamma * xhat + beta. Written with (x - mean) rather than x * scale + shift: the latter
// cancels badly when |mean| is large against the standard deviation.
template <class T>
CUPICK_HD T batchnorm_y(T x, T mean, T inv_std, T gamma, T beta) {
  return gamma * batchnorm_xhat(x, mean, inv_std) + beta;
}
// Train mode, where mean and variance depend on x: dx = gamma * inv_std / m * (m dy - dbeta - xhat dgamma),
// with dbeta = sum dy and dgamma = sum dy * xhat over the channel. `scale` is gamma * inv_std / m.
template <class T>
CUPICK_HD T batchnorm_dx_train(T dy, T xhat, T scale, T m, T dbeta, T dgamma) {
  return scale * (m * dy - dbeta - xhat * dgamma);
}
// Infer mode, where mean and variance are constants: a frozen affine map.
template <class T>
CUPICK_HD T batchnorm_dx_infer(T dy, T gamma, T inv_std) { return dy * gamma * inv_std; }

// Tensors are NCHW with C = `c` channels and `hw` = H * W; per-channel arrays have c elements.

// Scratch memory batchnorm_forward and batchnorm_backward need (ctx.workspace).
size_t batchnorm_workspace_bytes(int n, int c, size_t hw);

// train: normalises with the batch mean and biased variance and updates the moving statistics in
// place (needs workspace): `biased` (2c: the mean's hidden average, then the variance's) as
// batchnorm_moving does, moving_mean and moving_var = biased / debias, with debias = 1 - momentum^t
// for this update's count t. infer: normalises with the moving statistics and changes nothing
// (biased and workspace unused). Both write save_mean and save_inv_std for backward.
cudaError_t batchnorm_forward(float* y, const float* x, int n, int c, size_t hw, const float* gamma,
                              const float* beta, float* moving_mean, float* moving_var, float* biased,
                              float* save_mean, float* save_inv_std, bool train, double momentum, double debias,
                              double eps, void* workspace, cudaStream_t stream);

// Overwrites dgamma and dbeta; dx (nullptr: not wanted) = (accumulate ? dx : 0) + the input gradient.
// `train` is the mode of the forward that wrote save_mean and save_inv_std.
cudaError_t batchnorm_backward(float* dx, float* dgamma, float* dbeta, const float* dy, const float* x, int n, int c,
                               size_t hw, const float* gamma, const float* save_mean, const float* save_inv_std,
                               bool train, bool accumulate, void* workspace, cudaStream_t stream);

}  // namespace cupick::kernels
