// Leaky ReLU: y = x for x > 0, slope * x otherwise (crYOLO: slope 0.1).
#pragma once
#include "kernels/common.h"

namespace cupick::kernels {

template <class T>
CUPICK_HD T leaky_relu(T x, T slope) { return x > T(0) ? x : slope * x; }
// dy/dx at x; at exactly 0 we take the left slope, as TensorFlow does.
template <class T>
CUPICK_HD T leaky_relu_grad(T x, T slope) { return x > T(0) ? T(1) : slope; }
// The input gradient dy * f'(x), rounded before any accumulation adds it (see mul_rn).
template <class T>
CUPICK_HD T leaky_relu_dx(T dy, T x, T slope) { return mul_rn(dy, leaky_relu_grad(x, slope)); }

cudaError_t leaky_relu_forward(float* y, const float* x, size_t n, float slope, cudaStream_t stream);
// dx = (accumulate ? dx : 0) + dy * f'(x)
cudaError_t leaky_relu_backward(float* dx, const float* dy, const float* x, size_t n, float slope, bool accumulate,
                         cudaStream_t stream);

}  // namespace cupick::kernels
