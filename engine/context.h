// Where layers run: the host, or one GPU with its stream, cuDNN handle and a reusable
// workspace. One context per GPU, passed explicitly: no global state, so several GPUs fit later.
#pragma once
#include <memory>
#include <string>

#include "engine/tensor.h"

typedef struct CUstream_st* cudaStream_t;
typedef struct cudnnContext* cudnnHandle_t;

namespace cupick {

class Context {
 public:
  // The host. Always available.
  Context();
  // GPU `id`; throws DeviceError when there is no such GPU or cuDNN cannot start on it.
  explicit Context(int gpu_id);
  ~Context();
  Context(const Context&) = delete;
  Context& operator=(const Context&) = delete;

  // Number of usable GPUs: 0 whenever the driver, the runtime or the device says no.
  static int gpu_count();
  // A context on GPU 0, or nullptr when there is no usable GPU (tests skip on nullptr); a GPU that
  // is there but cannot start (e.g. cuDNN missing) is reported on stderr.
  static std::unique_ptr<Context> try_gpu();

  Device device() const { return device_; }
  bool on_gpu() const { return device_ == Device::gpu; }
  int gpu_id() const { return gpu_id_; }
  cudaStream_t stream() const { return stream_; }
  cudnnHandle_t cudnn() const { return cudnn_; }
  // Scratch memory on this context's device, at least `bytes`; grows, never shrinks. Valid until the
  // next call: layers use it within one forward or backward.
  void* workspace(size_t bytes);
  size_t workspace_bytes() const { return workspace_ ? workspace_->bytes() : 0; }
  // Waits for everything queued on the stream (no-op on the host).
  void sync() const;
  // Makes this context's GPU the calling thread's current device (no-op on the host): memory is
  // allocated and kernels run on the current device, so a thread working on a context other than
  // the last one created (several GPUs) calls this first.
  void make_current() const;
  // "cpu" or "gpu 0: NVIDIA H100 ..., cuDNN 9.x"
  std::string describe() const;

 private:
  void release();
  Device device_ = Device::cpu;
  int gpu_id_ = -1;
  cudaStream_t stream_ = nullptr;
  cudnnHandle_t cudnn_ = nullptr;
  std::unique_ptr<Buffer> workspace_;
};

}  // namespace cupick
