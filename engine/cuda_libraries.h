// cuDNN and cuFFT, opened at run time (dlopen) the first time a GPU needs them, instead of being
// load-time dependencies: the binary then starts where they are missing (a CPU-only node, a GPU
// node without cuDNN), and `cupick info`, the CPU path and everything but the GPU layers run.
//
// The functions cupick calls are defined in cuda_libraries.cpp under their own names, with the
// signatures of the toolkit's headers (a mismatch does not compile); each looks its function up in
// the opened library once and calls it. Where the library is missing they fail with the library's
// own "not initialised" status, so the callers' checks (CUDNN_CHECK, cufft_check) need nothing new;
// Context and GpuLowpass check `cudnn().loaded` / `cufft().loaded` first to say which one is missing.
#pragma once
#include <string>

namespace cupick::cuda_libraries {

struct Library {
  bool loaded = false;
  std::string path;     // the file opened, as the loader resolved it
  std::string version;  // "9.13.0" (the library's own report)
  std::string error;    // why it is not loaded: each name tried and the loader's message
};

// cuDNN 9: the file or folder named by CUPICK_CUDNN_PATH when set, else libcudnn.so.9 where the
// loader looks (LD_LIBRARY_PATH, the ld.so cache, the system folders). Opened once; thread-safe.
const Library& cudnn();

// cuFFT of this CUDA toolkit's major version (libcufft.so.12 for CUDA 13). Opened once.
const Library& cufft();

// One line per library for `cupick info`: "cuDNN 9.13.0 (/usr/lib/.../libcudnn.so.9)" or
// "cuDNN: not found (...): GPU convolutions are unavailable".
std::string describe();

}  // namespace cupick::cuda_libraries
