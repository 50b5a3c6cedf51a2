// 2-D convolution: k x k kernel (k odd), stride 1, "same" padding (k / 2 on every side), no dilation,
// one group; optional per-channel bias. crYOLO's networks use 3x3 and 1x1 only.
//
// Host: im2col + gemm (OpenBLAS), a band of output rows at a time so the column buffer stays small:
// the reference, in float and double. In float, 3x3 kernels take Winograd's F(4x4, 3x3) instead
// (engine/layers/winograd.h) where it is faster, forward and for the data gradient.
// GPU: cuDNN, fp32 with FMA math (no TF32), so that it agrees with the host reference.
#pragma once
#include <memory>
#include <vector>

#include "engine/layer.h"
#include "kernels/epilogue.h"

namespace cupick {

class Conv2D : public Layer {
 public:
  // Parameters "kernel" {out, in, k, k} (OIHW) and, with `bias`, "bias" {1, out, 1, 1}; both zero
  // until the network builder initialises them. Throws Error for an even k or a size <= 0.
  Conv2D(std::string name, int in_channels, int out_channels, int kernel, bool bias);
  ~Conv2D() override;
  const char* type() const override { return "conv"; }
  int in_channels() const { return in_channels_; }
  int out_channels() const { return out_channels_; }
  int kernel_size() const { return k_; }
  bool has_bias() const { return has_bias_; }
  double flop(const Shape& out) const override { return 2.0 * double(out.count()) * in_channels_ * k_ * k_; }
  std::vector<Param*> params() override;

  // The host path's column buffer holds at most about this many bytes (a band of at least one
  // output row); larger images are processed in several bands. Public for the tests.
  static constexpr size_t kColumnBytes = size_t(8) << 20;

  // Inference on the host in float with the layers after it folded in (Graph does this for conv ->
  // batchnorm [-> leaky ReLU]): output channel o is written as leaky_relu(scale[o] * (conv + bias[o])
  // + shift[o], slope); nullptr scale or shift: 1 or 0, slope 1: no activation. One pass over the
  // output where three layers make three.
  void forward_folded(const Tensor& x, Tensor& y, const float* scale, const float* shift, float slope);

  // How the host runs 3x3 kernels in float: Winograd where it pays (conv.cpp says where), always
  // im2col + gemm as in double, or always Winograd (tests, benchmarks).
  enum class HostAlgorithm { automatic, reference, winograd };
  void use(HostAlgorithm a) { host_algorithm_ = a; }

 protected:
  Shape infer(const std::vector<Shape>& in) const override;
  void forward_cpu(const Inputs& in, Tensor& out, Mode mode) override;
  void forward_gpu(Context& ctx, const Inputs& in, Tensor& out, Mode mode) override;
  void backward_cpu(const Inputs& in, const Tensor& out, const Tensor& dout, const InputGrads& din) override;
  void backward_gpu(Context& ctx, const Inputs& in, const Tensor& out, const Tensor& dout,
                    const InputGrads& din) override;
  void on_moved(Device device, DType dtype) override;

 private:
  template <class T> void forward_host(const Tensor& x, Tensor& y, const kernels::Epilogue* epi = nullptr);
  template <class T> void backward_host(const Tensor& x, const Tensor& dy, const InputGrad& dx);
  template <class T> std::vector<T>& columns();
  template <class T> bool winograd() const;
  // Output rows per band for an image `w` pixels wide.
  int band_rows(int h, int w, size_t elem_bytes) const;

  int in_channels_, out_channels_, k_;
  bool has_bias_;
  HostAlgorithm host_algorithm_ = HostAlgorithm::automatic;
  Param kernel_, bias_;
  // Host scratch: the im2col matrix of one band, one per real type (reused between calls).
  std::vector<float> col_f32_;
  std::vector<double> col_f64_;
  // cuDNN descriptors and chosen algorithms for the last input shape (conv.cpp).
  struct Plan;
  std::unique_ptr<Plan> plan_;
  Plan& plan_for(Context& ctx, const Shape& x);
};

}  // namespace cupick
