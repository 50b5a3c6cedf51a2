#include <algorithm>

#include "kernels/batchnorm.h"

// Channel statistics are a reduction over m = N*H*W values per channel. One block per channel
// starves the GPU when channels are few and planes large (32 channels of 8M values), so each channel
// is cut into chunks, one block each: stage 1 writes per-block partials (in double) to the workspace,
// stage 2 combines one channel's partials in a fixed order. No atomics: results are repeatable.
// Variance uses Welford/Chan summaries (count, mean, sum of squared deviations), never
// E[x^2] - E[x]^2, which cancels catastrophically in fp32 when the mean is large.

namespace cupick::kernels {
namespace {

constexpr int kThreads = 256;                   // every kernel here; a power of two for the tree reductions
constexpr size_t kTargetBlocks = 2048;          // about two waves of 256-thread blocks on an H100 (132 SMs x 8)
constexpr size_t kMinPerBlock = 4 * kThreads;   // below this a block is mostly start-up cost
constexpr size_t kMaxPerBlock = 256 * kThreads; // each thread's fp32 partials then sum at most 256 values
constexpr size_t kMaxGridBlocks = 65535 * 8;    // as blocks_for(): grid-stride loops cover the rest

size_t ceil_div(size_t a, size_t b) { return (a + b - 1) / b; }

// How one channel's m values are cut: chunk j covers values [j * len, min(m, (j + 1) * len)).
struct Split {
  size_t m, chunks, len;
};

// Enough blocks overall to fill the GPU when channels are few, and no more than one per channel
// when they are many and small (1024 channels of 4096 values).
Split split_channel(size_t m, int c) {
  const size_t want = std::max(ceil_div(kTargetBlocks, size_t(c)), ceil_div(m, kMaxPerBlock));
  const size_t chunks = std::max<size_t>(1, std::min(want, ceil_div(m, kMinPerBlock)));
  return {m, chunks, ceil_div(m, chunks)};
}

// Element-wise kernels walk rows, one (n, c) plane of hw values each, so the channel comes from one
// division per row rather than per element: y over rows, x over the plane.
dim3 rows_grid(size_t rows, size_t hw) {
  const size_t by = std::min<size_t>(rows, 65535);
  const size_t bx = std::min(ceil_div(hw, kThreads), std::max<size_t>(1, kMaxGridBlocks / by));
  return dim3(unsigned(bx), unsigned(by));
}

// Calls f(i) with the NCHW index i of values k = k0 + threadIdx.x, k + blockDim.x, ... < k1 of channel
// c, where value k lies at ((k / hw) * C + c) * hw + k % hw. The pair (k / hw, k % hw) is stepped by
// addition: no 64-bit division per element.
template <class F>
__device__ void for_chunk(size_t k0, size_t k1, int c, int C, size_t hw, F&& f) {
  size_t k = k0 + threadIdx.x;
  if (k >= k1) return;
  const size_t dn = blockDim.x / hw, ds = blockDim.x % hw;
  size_t n = k / hw, s = k % hw;
  for (; k < k1; k += blockDim.x) {
    f((n * C + c) * hw + s);
    n += dn;
    s += ds;
    if (s >= hw) {  // s + ds < 2 hw: one carry at most
      s -= hw;
      ++n;
    }
  }
}

// Chan et al.'s merge of summary b into a: count n, mean, m2 = sum of squared deviations from the mean.
__device__ void merge(double& n, double& mean, double& m2, double nb, double mean_b, double m2_b) {
  if (nb == 0) return;
  const double total = n + nb, d = mean_b - mean;
  mean += d * (nb / total);
  m2 += m2_b + d * d * (n * nb / total);
  n = total;
}

// Merges all kThreads threads' summaries; every thread gets the block's. Fixed tree: deterministic.
__device__ void block_merge(double& n, double& mean, double& m2) {
  __shared__ double sn[kThreads], smean[kThreads], sm2[kThreads];
  const int t = threadIdx.x;
  sn[t] = n, smean[t] = mean, sm2[t] = m2;
  __syncthreads();
  for (int half = kThreads / 2; half > 0; half /= 2) {
    if (t < half) merge(sn[t], smean[t], sm2[t], sn[t + half], smean[t + half], sm2[t + half]);
    __syncthreads();
  }
  n = sn[0], mean = smean[0], m2 = sm2[0];
}

// Sums a and b over the block's kThreads threads; every thread gets the sums.
__device__ void block_sum(double& a, double& b) {
  __shared__ double sa[kThreads], sb[kThreads];
  const int t = threadIdx.x;
  sa[t] = a, sb[t] = b;
  __syncthreads();
  for (int half = kThreads / 2; half > 0; half /= 2) {
    if (t < half) sa[t] += sa[t + half], sb[t] += sb[t + half];
    __syncthreads();
  }
  a = sa[0], b = sb[0];
}

// Stage 1 of the statistics: block b handles chunk b % chunks of channel b / chunks and writes its
// (count, mean, m2) to part[3b..3b+2]. Welford per thread in fp32 (at most 256 values), merged in double.
__global__ void stats_partial_kernel(double* part, const float* x, int C, size_t hw, Split sp) {
  const int c = int(blockIdx.x / sp.chunks);
  const size_t k0 = (blockIdx.x % sp.chunks) * sp.len;
  const size_t k1 = k0 + sp.len < sp.m ? k0 + sp.len : sp.m;
  float n = 0, mean = 0, m2 = 0;
  for_chunk(k0, k1, c, C, hw, [&](size_t i) {
    const float v = x[i];
    n += 1;
    const float d = v - mean;
    mean += d / n;
    m2 += d * (v - mean);
  });
  double bn = n, bmean = mean, bm2 = m2;
  block_merge(bn, bmean, bm2);
  if (threadIdx.x == 0) {
    double* p = part + 3 * size_t(blockIdx.x);
    p[0] = bn, p[1] = bmean, p[2] = bm2;
  }
}

// Stage 2, block c: merges channel c's partials, saves mean and inv_std, updates the moving statistics
// (biased[c] and biased[C + c] are the hidden averages of the mean and the variance).
__global__ void stats_finalize_kernel(const double* part, size_t chunks, float* moving_mean, float* moving_var,
                                      float* biased, float* save_mean, float* save_inv_std, double momentum,
                                      double debias, double eps) {
  const int c = blockIdx.x;
  double n = 0, mean = 0, m2 = 0;
  for (size_t j = threadIdx.x; j < chunks; j += blockDim.x) {
    const double* p = part + 3 * (c * chunks + j);
    merge(n, mean, m2, p[0], p[1], p[2]);
  }
  block_merge(n, mean, m2);
  if (threadIdx.x == 0) {
    const double var = m2 > 0 ? m2 / n : 0.0;  // over m, not m - 1: what the batch is normalised with
    save_mean[c] = float(mean);
    save_inv_std[c] = float(batchnorm_inv_std(var, eps));
    const int C = gridDim.x;  // one block per channel
    double b_mean = biased[c], b_var = biased[C + c];
    moving_mean[c] = float(batchnorm_moving(b_mean, mean, momentum, debias));
    moving_var[c] = float(batchnorm_moving(b_var, batchnorm_keras_variance(var, n, eps), momentum, debias));
    biased[c] = float(b_mean), biased[C + c] = float(b_var);
  }
}

// Infer mode: the saved statistics are the moving ones.
__global__ void moving_stats_kernel(const float* moving_mean, const float* moving_var, float* save_mean,
                                    float* save_inv_std, int C, double eps) {
  for (int c = blockIdx.x * blockDim.x + threadIdx.x; c < C; c += gridDim.x * blockDim.x) {
    save_mean[c] = moving_mean[c];
    save_inv_std[c] = float(batchnorm_inv_std(moving_var[c], eps));
  }
}

__global__ void normalize_kernel(float* y, const float* x, size_t rows, int C, size_t hw, const float* gamma,
                                 const float* beta, const float* mean, const float* inv_std) {
  for (size_t row = blockIdx.y; row < rows; row += gridDim.y) {
    const int c = int(row % C);
    const float g = gamma[c], b = beta[c], mu = mean[c], inv = inv_std[c];
    const float* xr = x + row * hw;
    float* yr = y + row * hw;
    for (size_t s = blockIdx.x * size_t(blockDim.x) + threadIdx.x; s < hw; s += size_t(gridDim.x) * blockDim.x)
      yr[s] = batchnorm_y(xr[s], mu, inv, g, b);
  }
}

// Stage 1 of backward, cut like the statistics: part[2b] = sum dy, part[2b+1] = sum dy * xhat.
__global__ void grad_partial_kernel(double* part, const float* dy, const float* x, const float* mean,
                                    const float* inv_std, int C, size_t hw, Split sp) {
  const int c = int(blockIdx.x / sp.chunks);
  const size_t k0 = (blockIdx.x % sp.chunks) * sp.len;
  const size_t k1 = k0 + sp.len < sp.m ? k0 + sp.len : sp.m;
  const float mu = mean[c], inv = inv_std[c];
  float sdy = 0, sdyx = 0;
  for_chunk(k0, k1, c, C, hw, [&](size_t i) {
    const float g = dy[i];
    sdy += g;
    sdyx += g * batchnorm_xhat(x[i], mu, inv);
  });
  double a = sdy, b = sdyx;
  block_sum(a, b);
  if (threadIdx.x == 0) part[2 * size_t(blockIdx.x)] = a, part[2 * size_t(blockIdx.x) + 1] = b;
}

// Stage 2, block c: dbeta = sum dy, dgamma = sum dy * xhat (overwritten).
__global__ void grad_finalize_kernel(const double* part, size_t chunks, float* dgamma, float* dbeta) {
  const int c = blockIdx.x;
  double a = 0, b = 0;
  for (size_t j = threadIdx.x; j < chunks; j += blockDim.x) {
    const double* p = part + 2 * (c * chunks + j);
    a += p[0], b += p[1];
  }
  block_sum(a, b);
  if (threadIdx.x == 0) dbeta[c] = float(a), dgamma[c] = float(b);
}

__global__ void dx_kernel(float* dx, const float* dy, const float* x, size_t rows, int C, size_t hw, float m,
                          const float* gamma, const float* mean, const float* inv_std, const float* dgamma,
                          const float* dbeta, bool train, bool accumulate) {
  for (size_t row = blockIdx.y; row < rows; row += gridDim.y) {
    const int c = int(row % C);
    const float g = gamma[c], mu = mean[c], inv = inv_std[c], dg = dgamma[c], db = dbeta[c];
    const float scale = g * inv / m;
    const size_t base = row * hw;
    for (size_t s = blockIdx.x * size_t(blockDim.x) + threadIdx.x; s < hw; s += size_t(gridDim.x) * blockDim.x) {
      const size_t i = base + s;
      const float v = train ? batchnorm_dx_train(dy[i], batchnorm_xhat(x[i], mu, inv), scale, m, db, dg)
                            : batchnorm_dx_infer(dy[i], g, inv);
      dx[i] = accumulate ? dx[i] + v : v;
    }
  }
}

}  // namespace

size_t batchnorm_workspace_bytes(int n, int c, size_t hw) {
  if (n <= 0 || c <= 0 || hw == 0) return 0;
  // Three doubles per block for the statistics, two for backward.
  return size_t(c) * split_channel(size_t(n) * hw, c).chunks * 3 * sizeof(double);
}

cudaError_t batchnorm_forward(float* y, const float* x, int n, int c, size_t hw, const float* gamma,
                              const float* beta, float* moving_mean, float* moving_var, float* biased,
                              float* save_mean, float* save_inv_std, bool train, double momentum, double debias,
                              double eps, void* workspace, cudaStream_t stream) {
  if (n <= 0 || c <= 0 || hw == 0) return cudaSuccess;
  if (train) {
    const Split sp = split_channel(size_t(n) * hw, c);
    double* part = static_cast<double*>(workspace);
    stats_partial_kernel<<<unsigned(c * sp.chunks), kThreads, 0, stream>>>(part, x, c, hw, sp);
    stats_finalize_kernel<<<c, kThreads, 0, stream>>>(part, sp.chunks, moving_mean, moving_var, biased, save_mean,
                                                      save_inv_std, momentum, debias, eps);
  } else {
    moving_stats_kernel<<<blocks_for(c), kThreads, 0, stream>>>(moving_mean, moving_var, save_mean, save_inv_std, c,
                                                                eps);
  }
  const size_t rows = size_t(n) * c;
  normalize_kernel<<<rows_grid(rows, hw), kThreads, 0, stream>>>(y, x, rows, c, hw, gamma, beta, save_mean,
                                                                 save_inv_std);
  return cudaGetLastError();  // also reports an earlier launch here that failed: the error is kept until read
}

cudaError_t batchnorm_backward(float* dx, float* dgamma, float* dbeta, const float* dy, const float* x, int n, int c,
                               size_t hw, const float* gamma, const float* save_mean, const float* save_inv_std,
                               bool train, bool accumulate, void* workspace, cudaStream_t stream) {
  if (n <= 0 || c <= 0 || hw == 0) return cudaSuccess;
  const Split sp = split_channel(size_t(n) * hw, c);
  double* part = static_cast<double*>(workspace);
  grad_partial_kernel<<<unsigned(c * sp.chunks), kThreads, 0, stream>>>(part, dy, x, save_mean, save_inv_std, c,
                                                                         hw, sp);
  grad_finalize_kernel<<<c, kThreads, 0, stream>>>(part, sp.chunks, dgamma, dbeta);
  if (dx) {
    const size_t rows = size_t(n) * c;
    dx_kernel<<<rows_grid(rows, hw), kThreads, 0, stream>>>(dx, dy, x, rows, c, hw, float(sp.m), gamma, save_mean,
                                                            save_inv_std, dgamma, dbeta, train, accumulate);
  }
  return cudaGetLastError();
}

}  // namespace cupick::kernels
