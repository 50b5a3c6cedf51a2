#include "engine/layers/conv.h"

#include <cblas.h>
#include <cudnn.h>

#include <algorithm>
#include <type_traits>

#include "engine/cpu.h"
#include "engine/layers/winograd.h"

namespace cupick {

namespace {

// Row-major C = alpha * op(A) * op(B) + beta * C, one name for both real types. With beta = 0 BLAS
// does not read C (the reference BLAS says so and OpenBLAS keeps to it), so C may hold garbage.
void gemm(CBLAS_TRANSPOSE ta, CBLAS_TRANSPOSE tb, int m, int n, int k, float alpha, const float* a, int lda,
          const float* b, int ldb, float beta, float* c, int ldc) {
  cblas_sgemm(CblasRowMajor, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}
void gemm(CBLAS_TRANSPOSE ta, CBLAS_TRANSPOSE tb, int m, int n, int k, double alpha, const double* a, int lda,
          const double* b, int ldb, double beta, double* c, int ldc) {
  cblas_dgemm(CblasRowMajor, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

// Output column x (stride 1, padding p) reads input column x + j - p for kernel column j: the output
// columns [lo, hi) read inside the image, the rest read the zero padding.
struct Span {
  int lo, hi;
};
inline Span inside(int w, int j, int p) {
  const int lo = std::clamp(p - j, 0, w);
  return {lo, std::clamp(w + p - j, lo, w)};
}

// The column matrix of output rows [r0, r1) of one image x (C x h x w):
//   col[(c*k + i)*k + j][(r - r0)*w + x] = x[c][r + i - p][x + j - p], zero outside the image,
// so that the convolution of those rows is kernel (O x C*k*k) times col.
template <class T>
void im2col(const T* x, int channels, int h, int w, int k, int r0, int r1, T* col) {
  const int p = k / 2;
  for (int c = 0; c < channels; ++c)
    for (int i = 0; i < k; ++i)
      for (int j = 0; j < k; ++j) {
        const Span s = inside(w, j, p);
        T* dst = col + size_t((c * k + i) * k + j) * (r1 - r0) * w;
        for (int r = r0; r < r1; ++r, dst += w) {
          const int y = r + i - p;
          if (y < 0 || y >= h || s.lo == s.hi) {  // all padding (lo == hi only when k > 2 w + 1)
            std::fill(dst, dst + w, T(0));
            continue;
          }
          const T* src = x + (size_t(c) * h + y) * w;
          std::fill(dst, dst + s.lo, T(0));
          std::copy(src + (s.lo + j - p), src + (s.hi + j - p), dst + s.lo);
          std::fill(dst + s.hi, dst + w, T(0));
        }
      }
}

// The adjoint of im2col: adds every column entry back onto the input pixel it was read from.
template <class T>
void col2im_add(const T* col, int channels, int h, int w, int k, int r0, int r1, T* dx) {
  const int p = k / 2;
  for (int c = 0; c < channels; ++c)
    for (int i = 0; i < k; ++i)
      for (int j = 0; j < k; ++j) {
        const Span s = inside(w, j, p);
        const T* src = col + size_t((c * k + i) * k + j) * (r1 - r0) * w;
        for (int r = r0; r < r1; ++r, src += w) {
          const int y = r + i - p;
          if (y < 0 || y >= h || s.lo == s.hi) continue;
          T* dst = dx + (size_t(c) * h + y) * w + (s.lo + j - p);  // input pixel of output column lo
          for (int x = s.lo; x < s.hi; ++x) *dst++ += src[x];
        }
      }
}

// The epilogue over `cols` values of each of `channels` rows `stride` apart, right after gemm wrote
// them (while some are still in cache).
CUPICK_VECTOR_CLONES void apply_epilogue(const kernels::Epilogue& epi, int channels, float* y, int cols,
                                         size_t stride) {
#pragma omp parallel for schedule(static)
  for (int o = 0; o < channels; ++o) {
    const float scale = epi.scale_of(o), shift = epi.shift_of(o);
    float* row = y + size_t(o) * stride;
    for (int i = 0; i < cols; ++i) row[i] = kernels::epilogue(row[i], scale, shift, epi.slope);
  }
}

}  // namespace

// ---- cuDNN state ----------------------------------------------------------------------------------

struct Conv2D::Plan {
  cudnnTensorDescriptor_t x = nullptr, y = nullptr, bias = nullptr;
  cudnnFilterDescriptor_t w = nullptr;
  cudnnConvolutionDescriptor_t conv = nullptr;
  Shape shape;  // the input shape x, y and the algorithms are for; all zero: none yet
  int gpu = -1;  // the GPU the algorithms were chosen for
  cudnnConvolutionFwdAlgo_t fwd = CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_GEMM;
  cudnnConvolutionBwdDataAlgo_t bwd_data = CUDNN_CONVOLUTION_BWD_DATA_ALGO_1;
  cudnnConvolutionBwdFilterAlgo_t bwd_filter = CUDNN_CONVOLUTION_BWD_FILTER_ALGO_1;
  size_t fwd_bytes = 0, bwd_data_bytes = 0, bwd_filter_bytes = 0;

  ~Plan() {  // no checks: a destructor must not throw
    if (x) cudnnDestroyTensorDescriptor(x);
    if (y) cudnnDestroyTensorDescriptor(y);
    if (bias) cudnnDestroyTensorDescriptor(bias);
    if (w) cudnnDestroyFilterDescriptor(w);
    if (conv) cudnnDestroyConvolutionDescriptor(conv);
  }
};

namespace {

// Largest workspace we let one algorithm ask for; FFT algorithms on whole micrographs can want
// gigabytes, and the workspace is shared by every layer of the network.
constexpr size_t kMaxWorkspace = size_t(512) << 20;

// cuDNN's heuristics list candidates best first. Take the first that runs in true fp32 within the
// workspace cap, deterministic ones first (repeatable training, at little cost for these shapes);
// `bytes(algo, &size)` asks cuDNN for the workspace and fails where the algorithm cannot run. The
// fallback (an implicit GEMM, always supported) is for a list with nothing usable in it.
template <class Perf, class Algo, class Bytes>
void choose(const std::vector<Perf>& perf, Algo fallback, Bytes bytes, Algo& algo, size_t& workspace) {
  for (bool deterministic_only : {true, false})
    for (const Perf& p : perf) {
      if (p.status != CUDNN_STATUS_SUCCESS) continue;
      if (p.mathType == CUDNN_TENSOR_OP_MATH || p.mathType == CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION) continue;
      if (deterministic_only && p.determinism != CUDNN_DETERMINISTIC) continue;
      size_t size = 0;
      if (bytes(p.algo, &size) != CUDNN_STATUS_SUCCESS || size > kMaxWorkspace) continue;
      algo = p.algo;
      workspace = size;
      return;
    }
  algo = fallback;
  CUDNN_CHECK(bytes(fallback, &workspace));
}

}  // namespace

Conv2D::Plan& Conv2D::plan_for(Context& ctx, const Shape& s) {
  const cudnnHandle_t h = ctx.cudnn();
  if (!plan_) {
    plan_ = std::make_unique<Plan>();  // owns each descriptor as soon as it exists
    Plan& p = *plan_;
    CUDNN_CHECK(cudnnCreateTensorDescriptor(&p.x));
    CUDNN_CHECK(cudnnCreateTensorDescriptor(&p.y));
    CUDNN_CHECK(cudnnCreateTensorDescriptor(&p.bias));
    CUDNN_CHECK(cudnnCreateFilterDescriptor(&p.w));
    CUDNN_CHECK(cudnnCreateConvolutionDescriptor(&p.conv));
    // Keras's Conv2D is a cross-correlation (no kernel flip), as is the host im2col.
    CUDNN_CHECK(cudnnSetConvolution2dDescriptor(p.conv, k_ / 2, k_ / 2, 1, 1, 1, 1, CUDNN_CROSS_CORRELATION,
                                                CUDNN_DATA_FLOAT));
    // True fp32 (no TF32 tensor cores), so the GPU agrees with the host reference to fp32 rounding.
    // The fast path will be bf16 NHWC with fp32 accumulation, on tensor cores.
    CUDNN_CHECK(cudnnSetConvolutionMathType(p.conv, CUDNN_FMA_MATH));
    CUDNN_CHECK(cudnnSetFilter4dDescriptor(p.w, CUDNN_DATA_FLOAT, CUDNN_TENSOR_NCHW, out_channels_, in_channels_, k_,
                                           k_));
    CUDNN_CHECK(cudnnSetTensor4dDescriptor(p.bias, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, 1, out_channels_, 1, 1));
  }
  Plan& p = *plan_;
  if (p.shape == s && p.gpu == ctx.gpu_id()) return p;

  p.shape = Shape{};  // stays invalid if anything below throws
  CUDNN_CHECK(cudnnSetTensor4dDescriptor(p.x, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, s.n, s.c, s.h, s.w));
  CUDNN_CHECK(cudnnSetTensor4dDescriptor(p.y, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, s.n, out_channels_, s.h, s.w));

  int max = 0, got = 0;
  CUDNN_CHECK(cudnnGetConvolutionForwardAlgorithmMaxCount(h, &max));
  std::vector<cudnnConvolutionFwdAlgoPerf_t> fwd(max);
  CUDNN_CHECK(cudnnGetConvolutionForwardAlgorithm_v7(h, p.x, p.w, p.conv, p.y, max, &got, fwd.data()));
  fwd.resize(got);
  choose(fwd, CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_GEMM,
         [&](cudnnConvolutionFwdAlgo_t a, size_t* b) {
           return cudnnGetConvolutionForwardWorkspaceSize(h, p.x, p.w, p.conv, p.y, a, b);
         },
         p.fwd, p.fwd_bytes);

  CUDNN_CHECK(cudnnGetConvolutionBackwardDataAlgorithmMaxCount(h, &max));
  std::vector<cudnnConvolutionBwdDataAlgoPerf_t> data(max);
  CUDNN_CHECK(cudnnGetConvolutionBackwardDataAlgorithm_v7(h, p.w, p.y, p.conv, p.x, max, &got, data.data()));
  data.resize(got);
  choose(data, CUDNN_CONVOLUTION_BWD_DATA_ALGO_1,
         [&](cudnnConvolutionBwdDataAlgo_t a, size_t* b) {
           return cudnnGetConvolutionBackwardDataWorkspaceSize(h, p.w, p.y, p.conv, p.x, a, b);
         },
         p.bwd_data, p.bwd_data_bytes);

  CUDNN_CHECK(cudnnGetConvolutionBackwardFilterAlgorithmMaxCount(h, &max));
  std::vector<cudnnConvolutionBwdFilterAlgoPerf_t> filter(max);
  CUDNN_CHECK(cudnnGetConvolutionBackwardFilterAlgorithm_v7(h, p.x, p.y, p.conv, p.w, max, &got, filter.data()));
  filter.resize(got);
  choose(filter, CUDNN_CONVOLUTION_BWD_FILTER_ALGO_1,
         [&](cudnnConvolutionBwdFilterAlgo_t a, size_t* b) {
           return cudnnGetConvolutionBackwardFilterWorkspaceSize(h, p.x, p.y, p.conv, p.w, a, b);
         },
         p.bwd_filter, p.bwd_filter_bytes);

  p.shape = s;
  p.gpu = ctx.gpu_id();
  return p;
}

// ---- the layer ------------------------------------------------------------------------------------

Conv2D::Conv2D(std::string name, int in_channels, int out_channels, int kernel, bool bias)
    : Layer(std::move(name)), in_channels_(in_channels), out_channels_(out_channels), k_(kernel), has_bias_(bias) {
  const std::string who = this->name() + " (conv): ";
  if (in_channels <= 0 || out_channels <= 0 || kernel <= 0)
    throw Error(who + "channels and kernel size must be positive, got in=" + std::to_string(in_channels) +
                " out=" + std::to_string(out_channels) + " kernel=" + std::to_string(kernel));
  if (kernel % 2 == 0)
    throw Error(who + "kernel size " + std::to_string(kernel) + " is even; 'same' padding needs an odd size");
  const Shape ks{out_channels, in_channels, kernel, kernel};
  kernel_ = Param{"kernel", Tensor(ks), Tensor(ks)};
  if (bias) bias_ = Param{"bias", Tensor({1, out_channels, 1, 1}), Tensor({1, out_channels, 1, 1})};
}

Conv2D::~Conv2D() = default;

std::vector<Param*> Conv2D::params() {
  if (has_bias_) return {&kernel_, &bias_};
  return {&kernel_};
}

Shape Conv2D::infer(const std::vector<Shape>& in) const {
  if (in[0].c != in_channels_)
    fail("expected C=" + std::to_string(in_channels_) + ", got " + std::to_string(in[0].c), in);
  return {in[0].n, out_channels_, in[0].h, in[0].w};
}

void Conv2D::on_moved(Device device, DType) {
  if (device == Device::gpu) {  // the host scratch is of no more use
    col_f32_ = {};
    col_f64_ = {};
  }
}

// ---- host -----------------------------------------------------------------------------------------

template <class T>
std::vector<T>& Conv2D::columns() {
  if constexpr (std::is_same_v<T, float>) return col_f32_;
  else return col_f64_;
}

int Conv2D::band_rows(int h, int w, size_t elem_bytes) const {
  if (k_ == 1) return h;  // the image itself is the column matrix: one band, no buffer
  // Bands keep the column buffer small enough to stay in cache between im2col and gemm, but wide
  // enough (a few hundred columns) for gemm to run at full speed.
  const size_t row_bytes = size_t(in_channels_) * k_ * k_ * w * elem_bytes;
  const size_t rows = std::max(kColumnBytes / row_bytes, (size_t(256) + w - 1) / w);
  return int(std::clamp<size_t>(rows, 1, h));
}

// Winograd saves 3/4 of the multiplications but adds transforms that move every input and output
// through memory 36/16 times: it pays unless a side has very few channels. Measured on a 2-core
// AVX-512 VM, OpenBLAS 0.3.21 on OpenMP with its SkylakeX kernels, transforms for AVX-512
// (bench_layers, 2026-12-04, forward ms, Winograd vs im2col): 1280-1024@64 148 vs 424,
// 512-1024@64 71 vs 174, 128-256@128 19-27 vs 39, 64-128@256 31-35 vs 50, 32-64@512 45-57 vs 70-81,
// but 1-32@1024 49 vs 17 (data gradients: 32-64 118 vs 139, 64-128 96-112 vs 101-103).
template <class T>
bool Conv2D::winograd() const {
  if (!std::is_same_v<T, float> || k_ != 3 || host_algorithm_ == HostAlgorithm::reference) return false;
  return host_algorithm_ == HostAlgorithm::winograd || (in_channels_ >= 32 && out_channels_ >= 32);
}

template <class T>
void Conv2D::forward_host(const Tensor& xt, Tensor& yt, const kernels::Epilogue* epi) {
  const Shape s = xt.shape();
  if constexpr (std::is_same_v<T, float>)
    if (winograd<T>()) {
      kernels::Epilogue bias_only;
      bias_only.shift = has_bias_ ? bias_.value.data<float>() : nullptr;
      return winograd::conv3x3(xt.data<float>(), s.n, in_channels_, s.h, s.w, kernel_.value.data<float>(),
                               out_channels_, epi ? *epi : bias_only, yt.data<float>(), false);
    }
  const int hw = s.h * s.w, ckk = in_channels_ * k_ * k_, rows = band_rows(s.h, s.w, sizeof(T));
  const T* w = kernel_.value.data<T>();
  // With an epilogue, its shift holds the bias (forward_folded), applied after gemm.
  const T* b = has_bias_ && !epi ? bias_.value.data<T>() : nullptr;
  std::vector<T>& col = columns<T>();
  if (k_ > 1) col.resize(std::max(col.size(), size_t(ckk) * rows * s.w));
  for (int n = 0; n < s.n; ++n) {
    const T* x = xt.data<T>() + size_t(n) * in_channels_ * hw;
    T* y = yt.data<T>() + size_t(n) * out_channels_ * hw;
    // The bias goes in first and gemm adds onto it: one pass over y less.
    if (b)
      for (int o = 0; o < out_channels_; ++o) std::fill(y + size_t(o) * hw, y + size_t(o + 1) * hw, b[o]);
    for (int r0 = 0; r0 < s.h; r0 += rows) {
      const int r1 = std::min(s.h, r0 + rows), cols = (r1 - r0) * s.w;
      const T* colm = x + size_t(r0) * s.w;  // 1x1: the image rows are the column matrix, row stride hw
      int ld = hw;
      if (k_ > 1) {
        im2col(x, in_channels_, s.h, s.w, k_, r0, r1, col.data());
        colm = col.data(), ld = cols;
      }
      gemm(CblasNoTrans, CblasNoTrans, out_channels_, cols, ckk, T(1), w, ckk, colm, ld, T(b ? 1 : 0),
           y + size_t(r0) * s.w, hw);
      if constexpr (std::is_same_v<T, float>)
        if (epi) apply_epilogue(*epi, out_channels_, y + size_t(r0) * s.w, cols, hw);
    }
  }
}

template <class T>
void Conv2D::backward_host(const Tensor& xt, const Tensor& dyt, const InputGrad& din) {
  const Shape s = xt.shape();
  const int hw = s.h * s.w, ckk = in_channels_ * k_ * k_, rows = band_rows(s.h, s.w, sizeof(T));
  const T* w = kernel_.value.data<T>();
  T* dw = kernel_.grad.empty() ? nullptr : kernel_.grad.data<T>();  // empty: not trainable
  const bool accumulate = din.mode == GradMode::accumulate;
  std::vector<T>& col = columns<T>();
  if (k_ > 1) col.resize(std::max(col.size(), size_t(ckk) * rows * s.w));
  // Winograd makes the data gradient in one call: it is the "same" correlation of dy with the kernel
  // turned by 180 degrees and transposed (in <-> out), which the loop below then skips.
  const bool winograd_dx = din.tensor && winograd<T>();
  if constexpr (std::is_same_v<T, float>)
    if (winograd_dx) {
      std::vector<float>& turned = col;  // the column buffer is free until the loop below
      turned.resize(std::max(turned.size(), size_t(ckk) * out_channels_));
      for (int o = 0; o < out_channels_; ++o)
        for (int c = 0; c < in_channels_; ++c)
          for (int i = 0; i < 9; ++i)
            turned[(size_t(c) * out_channels_ + o) * 9 + i] = w[(size_t(o) * in_channels_ + c) * 9 + 8 - i];
      winograd::conv3x3(dyt.data<float>(), s.n, out_channels_, s.h, s.w, turned.data(), in_channels_,
                        kernels::Epilogue{}, din.tensor->data<float>(), accumulate);
    }
  bool first = true;  // the first band of the first image overwrites d kernel, the others add to it
  for (int n = 0; n < s.n; ++n) {
    const T* x = xt.data<T>() + size_t(n) * in_channels_ * hw;
    const T* dy = dyt.data<T>() + size_t(n) * out_channels_ * hw;
    T* dx = din.tensor && !winograd_dx ? din.tensor->data<T>() + size_t(n) * in_channels_ * hw : nullptr;
    // col2im adds, and neighbouring bands add onto the same input rows: start from zero. Zeros are
    // written, never the old contents read, so garbage (NaN) in an overwritten gradient is harmless.
    if (dx && k_ > 1 && !accumulate) std::fill(dx, dx + size_t(in_channels_) * hw, T(0));
    for (int r0 = 0; r0 < s.h; r0 += rows) {
      const int r1 = std::min(s.h, r0 + rows), cols = (r1 - r0) * s.w;
      const T* dy_band = dy + size_t(r0) * s.w;  // O x cols, row stride hw
      if (dw) {  // d kernel (O x C*k*k) += dy_band * col^T
        const T* colm = x + size_t(r0) * s.w;
        int ld = hw;
        if (k_ > 1) {
          im2col(x, in_channels_, s.h, s.w, k_, r0, r1, col.data());
          colm = col.data(), ld = cols;
        }
        gemm(CblasNoTrans, CblasTrans, out_channels_, ckk, cols, T(1), dy_band, hw, colm, ld, T(first ? 0 : 1), dw,
             ckk);
        first = false;
      }
      if (!dx) continue;
      // d col = kernel^T * dy_band; for 1x1 that is dx itself, overwritten (beta 0) or added to.
      if (k_ == 1) {
        gemm(CblasTrans, CblasNoTrans, ckk, cols, out_channels_, T(1), w, ckk, dy_band, hw, T(accumulate ? 1 : 0),
             dx + size_t(r0) * s.w, hw);
      } else {
        gemm(CblasTrans, CblasNoTrans, ckk, cols, out_channels_, T(1), w, ckk, dy_band, hw, T(0), col.data(), cols);
        col2im_add(col.data(), in_channels_, s.h, s.w, k_, r0, r1, dx);
      }
    }
  }
  if (has_bias_ && !bias_.grad.empty()) {  // d bias = sum of dy over n, h, w (in double: long sums)
    T* db = bias_.grad.data<T>();
    for (int o = 0; o < out_channels_; ++o) {
      double sum = 0;
      for (int n = 0; n < s.n; ++n) {
        const T* dy = dyt.data<T>() + (size_t(n) * out_channels_ + o) * hw;
        for (int i = 0; i < hw; ++i) sum += dy[i];
      }
      db[o] = T(sum);
    }
  }
}

void Conv2D::forward_folded(const Tensor& x, Tensor& y, const float* scale, const float* shift, float slope) {
  const std::string who = name() + " (conv): ";
  if (x.device() != Device::cpu || x.dtype() != DType::f32 || y.dtype() != DType::f32)
    throw Error(who + "the folded forward runs on the host in float only");
  if (y.shape() != output_shape({x.shape()}))
    throw ShapeError(who + "folded output " + y.shape().str() + " for input " + x.shape().str());
  // scale * (conv + bias) + shift: the bias moves into the shift.
  const kernels::Epilogue given{scale, shift, slope};
  std::vector<float> s(out_channels_), t(out_channels_);
  const float* b = has_bias_ ? bias_.value.data<float>() : nullptr;
  for (int o = 0; o < out_channels_; ++o) {
    s[o] = given.scale_of(o);
    t[o] = given.shift_of(o) + (b ? s[o] * b[o] : 0.f);
  }
  const kernels::Epilogue epi{s.data(), t.data(), slope};
  forward_host<float>(x, y, &epi);
}

void Conv2D::forward_cpu(const Inputs& in, Tensor& out, Mode) {
  dispatch_real(out.dtype(), [&](auto zero) { forward_host<decltype(zero)>(*in[0], out); });
}

void Conv2D::backward_cpu(const Inputs& in, const Tensor&, const Tensor& dout, const InputGrads& din) {
  dispatch_real(dout.dtype(), [&](auto zero) { backward_host<decltype(zero)>(*in[0], dout, din[0]); });
}

// ---- GPU ------------------------------------------------------------------------------------------

void Conv2D::forward_gpu(Context& ctx, const Inputs& in, Tensor& out, Mode) {
  Plan& p = plan_for(ctx, in[0]->shape());
  const float one = 1, zero = 0;
  void* ws = p.fwd_bytes ? ctx.workspace(p.fwd_bytes) : nullptr;
  CUDNN_CHECK(cudnnConvolutionForward(ctx.cudnn(), &one, p.x, in[0]->data<float>(), p.w, kernel_.value.data<float>(),
                                      p.conv, p.fwd, ws, p.fwd_bytes, &zero, p.y, out.data<float>()));
  if (has_bias_)
    CUDNN_CHECK(cudnnAddTensor(ctx.cudnn(), &one, p.bias, bias_.value.data<float>(), &one, p.y, out.data<float>()));
}

void Conv2D::backward_gpu(Context& ctx, const Inputs& in, const Tensor&, const Tensor& dout, const InputGrads& din) {
  Plan& p = plan_for(ctx, in[0]->shape());
  const float one = 1, zero = 0;
  Tensor* dx = din[0].tensor;
  const bool dw = !kernel_.grad.empty();
  // One workspace for both calls: they run one after the other on the stream.
  const size_t bytes = std::max(dx ? p.bwd_data_bytes : 0, dw ? p.bwd_filter_bytes : 0);
  void* ws = bytes ? ctx.workspace(bytes) : nullptr;
  if (dx) {  // beta 0: cuDNN does not read dx, so garbage (NaN) in it is harmless
    const float beta = din[0].mode == GradMode::accumulate ? 1.f : 0.f;
    CUDNN_CHECK(cudnnConvolutionBackwardData(ctx.cudnn(), &one, p.w, kernel_.value.data<float>(), p.y,
                                             dout.data<float>(), p.conv, p.bwd_data, ws, p.bwd_data_bytes, &beta, p.x,
                                             dx->data<float>()));
  }
  if (dw)
    CUDNN_CHECK(cudnnConvolutionBackwardFilter(ctx.cudnn(), &one, p.x, in[0]->data<float>(), p.y, dout.data<float>(),
                                               p.conv, p.bwd_filter, ws, p.bwd_filter_bytes, &zero, p.w,
                                               kernel_.grad.data<float>()));
  if (has_bias_ && !bias_.grad.empty())
    CUDNN_CHECK(cudnnConvolutionBackwardBias(ctx.cudnn(), &one, p.y, dout.data<float>(), &zero, p.bias,
                                             bias_.grad.data<float>()));
}

}  // namespace cupick
