// What a convolution applies to each output as it writes it, so that the batchnorm and the leaky
// ReLU after it (in inference, where batchnorm is a fixed affine map per channel) cost no pass over
// memory of their own: out = leaky_relu(scale[c] * sum + shift[c], slope) for output channel c.
#pragma once
#include "kernels/common.h"
#include "kernels/leaky_relu.h"

namespace cupick::kernels {

struct Epilogue {
  const float* scale = nullptr;  // per output channel; nullptr: 1
  const float* shift = nullptr;  // per output channel; nullptr: 0
  float slope = 1;               // the leaky ReLU's slope; 1: none
  CUPICK_HD float scale_of(int c) const { return scale ? scale[c] : 1.f; }
  CUPICK_HD float shift_of(int c) const { return shift ? shift[c] : 0.f; }
};

CUPICK_HD float epilogue(float sum, float scale, float shift, float slope) {
  return leaky_relu(scale * sum + shift, slope);
}

}  // namespace cupick::kernels
