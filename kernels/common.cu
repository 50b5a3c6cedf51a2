#include "kernels/common.h"

namespace cupick::kernels {

namespace {
__global__ void probe_kernel() {}
}  // namespace

cudaError_t kernel_image_status() {
  cudaFuncAttributes attributes{};
  return cudaFuncGetAttributes(&attributes, probe_kernel);
}

}  // namespace cupick::kernels
