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
// Keras turns the biased batch variance over m values into the sample variance before averaging it in.
CUPICK_HD double batchnorm_unbiased(double var, double m) { return m > 1 ? var * m / (m - 1) : var; }
// moving = momentum * moving + (1 - momentum) * batch.
CUPICK_HD double batchnorm_moving(double moving, double batch, double momentum) {
  return momentum * moving + (1 - momentum) * batch;
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

// train: batch mean and biased variance, moving_mean and moving_var updated in place (needs workspace);
// infer: the moving statistics, left as they are (workspace unused).
// Both write save_mean and save_inv_std for backward.
cudaError_t batchnorm_forward(float* y, const float* x, int n, int c, size_t hw, const float* gamma,
                              const float* beta, float* moving_mean, float* moving_var, float* save_mean,
                              float* save_inv_std, bool train, double momentum, double eps, void* workspace,
                              cudaStream_t stream);

// Overwrites dgamma and dbeta; dx (nullptr: not wanted) = (accumulate ? dx : 0) + the input gradient.
// `train` is the mode of the forward that wrote save_mean and save_inv_std.
cudaError_t batchnorm_backward(float* dx, float* dgamma, float* dbeta, const float* dy, const float* x, int n, int c,
                               size_t hw, const float* gamma, const float* save_mean, const float* save_inv_std,
                               bool train, bool accumulate, void* workspace, cudaStream_t stream);

}  // namespace cupick::kernels
