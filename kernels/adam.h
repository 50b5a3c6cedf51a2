// Adam as Keras 2.2 applies it (crYOLO: beta1 0.9, beta2 0.999, epsilon 1e-8, no decay). Per step t:
//   lr_t = lr * sqrt(1 - beta2^t) / (1 - beta1^t)      (once per step, on the host)
//   m = beta1 m + (1 - beta1) g;  v = beta2 v + (1 - beta2) g^2;  p -= lr_t m / (sqrt(v) + epsilon)
// Keras folds the bias correction into lr_t and adds epsilon to sqrt(v) uncorrected; the textbook
// form (epsilon added to sqrt of the corrected v) differs when gradients are tiny, so keep this order.
#pragma once
#include <cmath>

#include "kernels/common.h"

namespace cupick::kernels {

// sqrtf / sqrt by type: both are correctly rounded on the host and (without --use_fast_math) on the GPU.
CUPICK_HD float adam_sqrt(float x) { return sqrtf(x); }
CUPICK_HD double adam_sqrt(double x) { return sqrt(x); }

// One element: updates the moments m, v and the parameter p from the gradient g.
template <class T>
CUPICK_HD void adam_element(T& p, T& m, T& v, T g, T lr_t, T beta1, T beta2, T eps) {
  m = beta1 * m + (T(1) - beta1) * g;
  v = beta2 * v + (T(1) - beta2) * g * g;
  p -= lr_t * m / (adam_sqrt(v) + eps);
}

// One parameter tensor of n elements, all on the GPU; m and v persist between steps.
cudaError_t adam_step(float* p, float* m, float* v, const float* g, size_t n, float lr_t, float beta1, float beta2,
                      float eps, cudaStream_t stream);

}  // namespace cupick::kernels
