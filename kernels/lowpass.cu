#include "kernels/lowpass.h"

namespace cupick::kernels {

// One thread per padded pixel, grid-stride.
__global__ void lowpass_pad_kernel(float* padded, int padded_width, int padded_height, const float* image, int width,
                                   int height, int left, int top) {
  const size_t n = size_t(padded_width) * size_t(padded_height);
  for (size_t i = blockIdx.x * size_t(blockDim.x) + threadIdx.x; i < n; i += size_t(gridDim.x) * blockDim.x) {
    const int px = int(i % size_t(padded_width)), py = int(i / size_t(padded_width));
    padded[i] = image[size_t(mirror_index(py - top, height)) * size_t(width) + size_t(mirror_index(px - left, width))];
  }
}

// One thread per complex element of the (padded_height, padded_width / 2 + 1) spectrum.
__global__ void lowpass_multiply_kernel(float2* spectrum, int padded_width, int padded_height, double cutoff) {
  const int half_width = padded_width / 2 + 1;
  const size_t n = size_t(half_width) * size_t(padded_height);
  for (size_t i = blockIdx.x * size_t(blockDim.x) + threadIdx.x; i < n; i += size_t(gridDim.x) * blockDim.x) {
    const int kx = int(i % size_t(half_width)), ky = int(i / size_t(half_width));
    const float gain = lowpass_spectrum_gain(kx, ky, padded_width, padded_height, cutoff);
    spectrum[i].x *= gain;
    spectrum[i].y *= gain;
  }
}

__global__ void lowpass_crop_kernel(float* image, int width, int height, const float* padded, int padded_width,
                                    int left, int top) {
  const size_t n = size_t(width) * size_t(height);
  for (size_t i = blockIdx.x * size_t(blockDim.x) + threadIdx.x; i < n; i += size_t(gridDim.x) * blockDim.x) {
    const int x = int(i % size_t(width)), y = int(i / size_t(width));
    image[i] = padded[size_t(y + top) * size_t(padded_width) + size_t(x + left)];
  }
}

cudaError_t lowpass_pad(float* padded, int padded_width, int padded_height, const float* image, int width, int height,
                        int left, int top, cudaStream_t stream) {
  const size_t n = size_t(padded_width) * size_t(padded_height);
  if (n == 0) return cudaSuccess;
  lowpass_pad_kernel<<<blocks_for(n), 256, 0, stream>>>(padded, padded_width, padded_height, image, width, height,
                                                        left, top);
  return cudaGetLastError();
}

cudaError_t lowpass_multiply(float* spectrum, int padded_width, int padded_height, double cutoff, cudaStream_t stream) {
  const size_t n = size_t(padded_width / 2 + 1) * size_t(padded_height);
  if (n == 0) return cudaSuccess;
  lowpass_multiply_kernel<<<blocks_for(n), 256, 0, stream>>>(reinterpret_cast<float2*>(spectrum), padded_width,
                                                             padded_height, cutoff);
  return cudaGetLastError();
}

cudaError_t lowpass_crop(float* image, int width, int height, const float* padded, int padded_width, int left, int top,
                         cudaStream_t stream) {
  const size_t n = size_t(width) * size_t(height);
  if (n == 0) return cudaSuccess;
  lowpass_crop_kernel<<<blocks_for(n), 256, 0, stream>>>(image, width, height, padded, padded_width, left, top);
  return cudaGetLastError();
}

}  // namespace cupick::kernels
