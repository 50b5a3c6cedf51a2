#include "engine/context.h"

#include <cuda_runtime.h>
#include <cudnn.h>

#include <cstdio>

#include "engine/cpu.h"
#include "engine/cuda_libraries.h"
#include "kernels/common.h"

namespace cupick {

[[noreturn]] void throw_cuda(int code, const char* call, const char* file, int line) {
  throw DeviceError(std::string("CUDA error ") + cudaGetErrorString(cudaError_t(code)) + " in " + call + " at " +
                    file + ":" + std::to_string(line));
}
[[noreturn]] void throw_cudnn(int code, const char* call, const char* file, int line) {
  throw DeviceError(std::string("cuDNN error ") + cudnnGetErrorString(cudnnStatus_t(code)) + " in " + call +
                    " at " + file + ":" + std::to_string(line));
}

// The host's BLAS kernels are settled before the first layer runs on any device.
Context::Context() { cpu::choose_blas_kernels(); }

Context::Context(int gpu_id) : device_(Device::gpu), gpu_id_(gpu_id) {
  const int n = gpu_count();
  if (gpu_id < 0 || gpu_id >= n)
    throw DeviceError("GPU " + std::to_string(gpu_id) + " requested but " + std::to_string(n) +
                      " usable GPU(s) found");
  try {
    CUDA_CHECK(cudaSetDevice(gpu_id));
    // A GPU this build has no kernels for would fail at the first launch with "no kernel image":
    // refused here instead, saying what to rebuild for (try_gpu then falls back to the CPU).
    if (const cudaError_t e = kernels::kernel_image_status(); e != cudaSuccess) {
      cudaGetLastError();
      cudaDeviceProp prop{};
      CUDA_CHECK(cudaGetDeviceProperties(&prop, gpu_id));
      const std::string cc = std::to_string(prop.major) + "." + std::to_string(prop.minor);
      throw DeviceError("GPU " + std::to_string(gpu_id) + " (" + prop.name + ", compute capability " + cc +
                        ") cannot run this build's kernels (" + cudaGetErrorString(e) + "; built for " +
                        CUPICK_CUDA_ARCHITECTURES + "): rebuild with -DCMAKE_CUDA_ARCHITECTURES=" +
                        std::to_string(prop.major * 10 + prop.minor));
    }
    if (const cuda_libraries::Library& lib = cuda_libraries::cudnn(); !lib.loaded)
      throw DeviceError("cuDNN 9 was not found (" + lib.error +
                        "): GPU convolutions need it; install it or set CUPICK_CUDNN_PATH to it");
    CUDA_CHECK(cudaStreamCreate(&stream_));  // blocking: ordered with cudaMemcpy on the default stream
    CUDNN_CHECK(cudnnCreate(&cudnn_));
    CUDNN_CHECK(cudnnSetStream(cudnn_, stream_));
  } catch (...) {
    release();  // a constructor that throws gets no destructor call
    throw;
  }
}

Context::~Context() { release(); }

void Context::release() {
  workspace_.reset();
  if (cudnn_) cudnnDestroy(cudnn_);
  if (stream_) cudaStreamDestroy(stream_);
  cudnn_ = nullptr;
  stream_ = nullptr;
}

int Context::gpu_count() {
  int n = 0;
  const cudaError_t e = cudaGetDeviceCount(&n);
  if (e == cudaSuccess) return n;
  cudaGetLastError();  // clear the sticky "no driver" error
  // No driver at all (a build machine) is the quiet case. A driver that is there but older than
  // this runtime (CUDA 13 wants r580+) would otherwise look the same: every GPU test skipped.
  int driver = 0;
  static bool warned = false;
  if (cudaDriverGetVersion(&driver) == cudaSuccess && driver > 0 && e != cudaErrorNoDevice && !warned) {
    warned = true;
    std::fprintf(stderr, "cupick: CUDA driver %d.%d is installed, but the CUDA %d.%d runtime cannot use it (%s)\n",
                 driver / 1000, driver % 1000 / 10, CUDART_VERSION / 1000, CUDART_VERSION % 1000 / 10,
                 cudaGetErrorString(e));
  }
  return 0;
}

std::unique_ptr<Context> Context::try_gpu() {
  if (gpu_count() == 0) return nullptr;
  // A GPU that is there but cannot start (cuDNN missing or of the wrong version) counts as none, so
  // that cupick still runs on the CPU; it says why on stderr, since on the machine meant to run
  // the GPU tests it would otherwise turn them all into quiet skips.
  try {
    return std::make_unique<Context>(0);
  } catch (const DeviceError& e) {
    std::fprintf(stderr, "cupick: GPU 0 cannot be used, running on the CPU: %s\n", e.what());
    return nullptr;
  }
}

void* Context::workspace(size_t bytes) {
  if (!workspace_ || workspace_->bytes() < bytes) {
    sync();  // work queued on the stream may still read the old workspace
    workspace_.reset();
    workspace_ = std::make_unique<Buffer>(bytes, device_);
  }
  return workspace_->data();
}

void Context::make_current() const {
  if (on_gpu()) CUDA_CHECK(cudaSetDevice(gpu_id_));
}

void Context::sync() const {
  if (stream_) CUDA_CHECK(cudaStreamSynchronize(stream_));
}

std::string Context::describe() const {
  if (!on_gpu()) return "cpu";
  cudaDeviceProp prop{};
  CUDA_CHECK(cudaGetDeviceProperties(&prop, gpu_id_));
  const size_t v = cudnnGetVersion();
  return "gpu " + std::to_string(gpu_id_) + ": " + prop.name + " (sm_" + std::to_string(prop.major) +
         std::to_string(prop.minor) + ", " + std::to_string(prop.multiProcessorCount) + " SMs), cuDNN " +
         std::to_string(v / 10000) + "." + std::to_string(v / 100 % 100) + "." + std::to_string(v % 100);
}

}  // namespace cupick
