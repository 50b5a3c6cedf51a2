#include "kernels/yolo_loss.h"

// One thread per entry (grid-stride), each adding its terms to kLossSums doubles in registers; a
// block sums its threads' in shared memory and writes one partial per block; a single block then sums
// the partials in a fixed order. No atomics: the same inputs give the same bits every time.
// The per-entry loop over the image's true boxes (a few hundred at most) reads the same box in every
// thread of a warp, since neighbouring entries belong to the same image: one broadcast load each.

namespace cupick::kernels {
namespace {

constexpr int kThreads = 256;       // a power of two for the tree reduction
constexpr unsigned kMaxBlocks = 1024;  // partials in the workspace; grid-stride loops cover the rest

__global__ void assign_kernel(int* entry_box, const LossBox* boxes, int count) {
  for (int b = blockIdx.x * blockDim.x + threadIdx.x; b < count; b += gridDim.x * blockDim.x)
    if (boxes[b].entry >= 0) entry_box[boxes[b].entry] = b;
}

// Sums v[0..kLossSums) over the block's kThreads threads; thread 0 ends with the block's sums.
__device__ void block_sum(double* v) {
  __shared__ double s[kLossSums][kThreads];
  const int t = threadIdx.x;
#pragma unroll
  for (int k = 0; k < kLossSums; ++k) s[k][t] = v[k];
  __syncthreads();
  for (int half = kThreads / 2; half > 0; half /= 2) {
    if (t < half) {
#pragma unroll
      for (int k = 0; k < kLossSums; ++k) s[k][t] += s[k][t + half];
    }
    __syncthreads();
  }
  if (t == 0) {
#pragma unroll
    for (int k = 0; k < kLossSums; ++k) v[k] = s[k][0];
  }
}

__global__ void entries_kernel(double* partials, float* dhead, const float* head, LossGrid grid, LossTruth truth,
                               bool warmup, LossScales scales, size_t entries) {
  double sums[kLossSums] = {};
  for (size_t e = blockIdx.x * size_t(blockDim.x) + threadIdx.x; e < entries; e += size_t(gridDim.x) * blockDim.x)
    yolo::entry_loss(e, grid, truth, head, dhead, warmup, scales, sums);
  block_sum(sums);
  if (threadIdx.x == 0)
    for (int k = 0; k < kLossSums; ++k) partials[blockIdx.x * kLossSums + k] = sums[k];
}

// One block: totals = the sum of `blocks` partials.
__global__ void totals_kernel(double* totals, const double* partials, unsigned blocks) {
  double sums[kLossSums] = {};
  for (unsigned b = threadIdx.x; b < blocks; b += blockDim.x)
    for (int k = 0; k < kLossSums; ++k) sums[k] += partials[b * kLossSums + k];
  block_sum(sums);
  if (threadIdx.x == 0)
    for (int k = 0; k < kLossSums; ++k) totals[k] = sums[k];
}

__global__ void normalise_kernel(float* dhead, size_t count, size_t hw, int per_anchor, const double* totals) {
  for (size_t i = blockIdx.x * size_t(blockDim.x) + threadIdx.x; i < count; i += size_t(gridDim.x) * blockDim.x) {
    const int k = int((i / hw) % per_anchor);
    dhead[i] = float(dhead[i] * yolo::grad_normaliser(k, totals));
  }
}

}  // namespace

size_t yolo_loss_sums_bytes() { return (1 + kMaxBlocks) * kLossSums * sizeof(double); }

cudaError_t yolo_loss_assign(int* entry_box, size_t entries, const LossBox* boxes, int box_count,
                             cudaStream_t stream) {
  if (entries == 0) return cudaSuccess;
  const cudaError_t rc = cudaMemsetAsync(entry_box, 0xff, entries * sizeof(int), stream);  // all bytes 0xff: -1
  if (rc != cudaSuccess || box_count == 0) return rc;
  assign_kernel<<<blocks_for(size_t(box_count), kThreads), kThreads, 0, stream>>>(entry_box, boxes, box_count);
  return cudaGetLastError();
}

cudaError_t yolo_loss_entries(float* dhead, double* sums, const float* head, LossGrid grid, LossTruth truth,
                              bool warmup, LossScales scales, cudaStream_t stream) {
  const size_t entries = size_t(grid.n) * grid.anchors * grid.gh * grid.gw;
  double* partials = sums + kLossSums;
  const unsigned blocks = blocks_for(entries, kThreads, kMaxBlocks);
  // With no entries, one block still runs: it writes zero partials, so the totals are zeros.
  entries_kernel<<<blocks, kThreads, 0, stream>>>(partials, dhead, head, grid, truth, warmup, scales, entries);
  const cudaError_t rc = cudaGetLastError();
  if (rc != cudaSuccess) return rc;
  totals_kernel<<<1, kThreads, 0, stream>>>(sums, partials, blocks);
  return cudaGetLastError();
}

cudaError_t yolo_loss_normalise(float* dhead, size_t count, size_t hw, int per_anchor, const double* totals,
                                cudaStream_t stream) {
  if (count == 0) return cudaSuccess;
  normalise_kernel<<<blocks_for(count), kThreads, 0, stream>>>(dhead, count, hw, per_anchor, totals);
  return cudaGetLastError();
}

}  // namespace cupick::kernels
