// GpuLowpass (image/preprocess.h): lowpass() with cuFFT, its per-pixel steps from kernels/lowpass.h.
#include <cuda_runtime.h>
#include <cufft.h>

#include <algorithm>

#include "engine/context.h"
#include "engine/cuda_libraries.h"
#include "image/preprocess.h"
#include "kernels/lowpass.h"

namespace cupick {

namespace {

void cufft_check(cufftResult result, const char* call) {
  if (result == CUFFT_SUCCESS) return;
  const std::string what = result == CUFFT_ALLOC_FAILED ? "out of GPU memory" : "status " + std::to_string(int(result));
  throw DeviceError(std::string("cuFFT error (") + what + ") in " + call);
}

// One cuFFT plan handle, destroyed with it.
struct Plan {
  cufftHandle handle = 0;
  Plan() { cufft_check(cufftCreate(&handle), "cufftCreate"); }
  ~Plan() { cufftDestroy(handle); }
  Plan(const Plan&) = delete;
  Plan& operator=(const Plan&) = delete;
};

}  // namespace

// A real-to-complex and a complex-to-real plan of one padded size (row-major: padded_height rows
// of padded_width, x fastest, as FFTW's), on one stream, sharing one work area (they never run at
// the same time), and the two arrays they transform between.
struct GpuLowpass::Transforms {
  int padded_width, padded_height;
  Buffer padded;                 // (padded_height, padded_width) float
  Buffer spectrum;               // (padded_height, padded_width / 2 + 1) complex
  std::unique_ptr<Buffer> work;  // cuFFT's scratch, the larger of the two plans' needs
  Plan forward, inverse;         // destroyed before the buffers they use

  Transforms(int pw, int ph, cudaStream_t stream)
      : padded_width(pw),
        padded_height(ph),
        padded(size_t(pw) * size_t(ph) * sizeof(float), Device::gpu),
        spectrum(size_t(pw / 2 + 1) * size_t(ph) * sizeof(cufftComplex), Device::gpu) {
    size_t forward_work = 0, inverse_work = 0;
    cufft_check(cufftSetAutoAllocation(forward.handle, 0), "cufftSetAutoAllocation");
    cufft_check(cufftSetAutoAllocation(inverse.handle, 0), "cufftSetAutoAllocation");
    // cuFFT's nx is the slowest dimension (rows), ny the fastest: (ph, pw), as fftwf_plan_dft_r2c_2d.
    cufft_check(cufftMakePlan2d(forward.handle, ph, pw, CUFFT_R2C, &forward_work), "cufftMakePlan2d (R2C)");
    cufft_check(cufftMakePlan2d(inverse.handle, ph, pw, CUFFT_C2R, &inverse_work), "cufftMakePlan2d (C2R)");
    work = std::make_unique<Buffer>(std::max<size_t>({forward_work, inverse_work, 1}), Device::gpu);
    for (const Plan* plan : {&forward, &inverse}) {
      cufft_check(cufftSetWorkArea(plan->handle, work->data()), "cufftSetWorkArea");
      cufft_check(cufftSetStream(plan->handle, stream), "cufftSetStream");
    }
  }
};

GpuLowpass::GpuLowpass(const Context& ctx) : ctx_(ctx) {
  if (!ctx.on_gpu()) throw Error("GpuLowpass: the context is not on a GPU");
  if (const cuda_libraries::Library& lib = cuda_libraries::cufft(); !lib.loaded)
    throw DeviceError("cuFFT was not found (" + lib.error + "): the GPU low-pass filter needs it");
  CUDA_CHECK(cudaSetDevice(ctx.gpu_id()));
  cudaStream_t stream = nullptr;
  CUDA_CHECK(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking));
  stream_ = stream;
}

GpuLowpass::~GpuLowpass() {
  // cuFFT and cudaFree act on the current device: ctx's, whichever thread filtered last.
  cudaSetDevice(ctx_.gpu_id());
  transforms_.clear();
  image_.reset();
  cudaStreamDestroy(static_cast<cudaStream_t>(stream_));
}

Image GpuLowpass::filter(const Image& image, double cutoff) {
  // lowpass_layout checks the cutoff and the sides; the pixel count is checked here, as lowpass does.
  const LowpassLayout layout = lowpass_layout(image.width, image.height, cutoff);
  const size_t count = size_t(image.width) * size_t(image.height);
  if (image.pixels.size() != count)
    throw Error("low-pass: not an image: " + std::to_string(image.width) + " x " + std::to_string(image.height) +
                " holding " + std::to_string(image.pixels.size()) + " pixels");
  const int pw = layout.padded_width, ph = layout.padded_height;

  std::lock_guard lock(mutex_);
  CUDA_CHECK(cudaSetDevice(ctx_.gpu_id()));
  cudaStream_t stream = static_cast<cudaStream_t>(stream_);

  // The plans of this padded size, moved to the front; at most two sizes are kept.
  auto found = std::find_if(transforms_.begin(), transforms_.end(), [&](const std::unique_ptr<Transforms>& t) {
    return t->padded_width == pw && t->padded_height == ph;
  });
  if (found == transforms_.end()) {
    if (transforms_.size() == 2) transforms_.pop_back();
    transforms_.insert(transforms_.begin(), std::make_unique<Transforms>(pw, ph, stream));
  } else {
    std::rotate(transforms_.begin(), found, found + 1);
  }
  Transforms& t = *transforms_.front();
  if (!image_ || image_->bytes() < count * sizeof(float)) {
    image_.reset();
    image_ = std::make_unique<Buffer>(count * sizeof(float), Device::gpu);
  }
  float* device_image = static_cast<float*>(image_->data());
  float* padded = static_cast<float*>(t.padded.data());
  cufftComplex* spectrum = static_cast<cufftComplex*>(t.spectrum.data());

  CUDA_CHECK(cudaMemcpyAsync(device_image, image.pixels.data(), count * sizeof(float), cudaMemcpyHostToDevice, stream));
  CUDA_CHECK(kernels::lowpass_pad(padded, pw, ph, device_image, image.width, image.height, layout.left, layout.top,
                                  stream));
  cufft_check(cufftExecR2C(t.forward.handle, padded, spectrum), "cufftExecR2C");
  CUDA_CHECK(kernels::lowpass_multiply(reinterpret_cast<float*>(spectrum), pw, ph, cutoff, stream));
  // C2R may overwrite its input; the spectrum is not needed again.
  cufft_check(cufftExecC2R(t.inverse.handle, spectrum, padded), "cufftExecC2R");
  CUDA_CHECK(kernels::lowpass_crop(device_image, image.width, image.height, padded, pw, layout.left, layout.top,
                                   stream));
  Image filtered(image.width, image.height);
  CUDA_CHECK(cudaMemcpyAsync(filtered.pixels.data(), device_image, count * sizeof(float), cudaMemcpyDeviceToHost,
                             stream));
  CUDA_CHECK(cudaStreamSynchronize(stream));
  return filtered;
}

}  // namespace cupick
