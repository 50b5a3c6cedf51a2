// Errors a user or a caller can cause. Every message names what was wrong (the layer, the shapes,
// the file); main() turns an Error into one line and a non-zero exit.
#pragma once
#include <stdexcept>
#include <string>

namespace cupick {

struct Error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// A wrong number, shape or type of inputs to a layer or a graph node.
struct ShapeError : Error {
  using Error::Error;
};

// A CUDA, cuDNN or cuFFT call failed, or a GPU was asked for where there is none.
struct DeviceError : Error {
  using Error::Error;
};

// A message as it may reach a terminal: control bytes (a file name's line break, a TIFF tag's
// escape sequence) written as \n, \t, \r or \xHH, and so are the C1 controls U+0080 to U+009F,
// which some terminals obey too. Other UTF-8 text is kept as it is.
std::string printable(const std::string& message);

[[noreturn]] void throw_cuda(int code, const char* call, const char* file, int line);
[[noreturn]] void throw_cudnn(int code, const char* call, const char* file, int line);

}  // namespace cupick

#define CUDA_CHECK(call)                                                     \
  do {                                                                       \
    int cupick_rc_ = static_cast<int>(call);                                 \
    if (cupick_rc_ != 0) cupick::throw_cuda(cupick_rc_, #call, __FILE__, __LINE__); \
  } while (0)
#define CUDNN_CHECK(call)                                                    \
  do {                                                                       \
    int cupick_rc_ = static_cast<int>(call);                                 \
    if (cupick_rc_ != 0) cupick::throw_cudnn(cupick_rc_, #call, __FILE__, __LINE__); \
  } while (0)
