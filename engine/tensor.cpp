#include "engine/tensor.h"

#include <cuda_runtime.h>

#include <cstdlib>
#include <cstring>

namespace cupick {

size_t dtype_size(DType t) {
  switch (t) {
    case DType::f32: return 4;
    case DType::f64: return 8;
    case DType::f16:
    case DType::bf16: return 2;
  }
  return 0;
}

const char* dtype_name(DType t) {
  switch (t) {
    case DType::f32: return "f32";
    case DType::f64: return "f64";
    case DType::f16: return "f16";
    case DType::bf16: return "bf16";
  }
  return "?";
}

const char* device_name(Device d) { return d == Device::gpu ? "gpu" : "cpu"; }

std::string Shape::str() const {
  return std::to_string(n) + "x" + std::to_string(c) + "x" + std::to_string(h) + "x" + std::to_string(w);
}

Buffer::Buffer(size_t bytes, Device device) : bytes_(bytes), device_(device) {
  if (bytes == 0) return;
  if (device == Device::gpu) {
    CUDA_CHECK(cudaMalloc(&data_, bytes));
    // cudaMemset runs on the legacy default stream, which a non-blocking stream (the GPU filter's)
    // does not wait for: without the wait a new buffer could be zeroed after that stream wrote it.
    CUDA_CHECK(cudaMemset(data_, 0, bytes));
    CUDA_CHECK(cudaStreamSynchronize(cudaStreamLegacy));
  } else {
    // 64-byte alignment for vector loads; aligned_alloc wants a multiple of the alignment.
    data_ = std::aligned_alloc(64, (bytes + 63) / 64 * 64);
    if (!data_) throw Error("out of host memory allocating " + std::to_string(bytes) + " bytes");
    std::memset(data_, 0, bytes);
  }
}

Buffer::~Buffer() {
  if (!data_) return;
  if (device_ == Device::gpu)
    cudaFree(data_);  // no throw from a destructor
  else
    std::free(data_);
}

Tensor::Tensor(Shape shape, Device device, DType dtype, Layout layout)
    : shape_(shape), device_(device), dtype_(dtype), layout_(layout) {
  if (shape.n < 0 || shape.c < 0 || shape.h < 0 || shape.w < 0)
    throw ShapeError("tensor: negative shape " + shape.str());
  buffer_ = std::make_shared<Buffer>(bytes(), device);
  ptr_ = buffer_->data();
}

Tensor::Tensor(std::shared_ptr<Buffer> buffer, size_t bytes_offset, Shape shape, DType dtype, Layout layout)
    : buffer_(std::move(buffer)), shape_(shape), dtype_(dtype), layout_(layout) {
  device_ = buffer_->device();
  if (bytes_offset + bytes() > buffer_->bytes())
    throw Error("tensor: " + shape.str() + " " + dtype_name(dtype) + " at offset " + std::to_string(bytes_offset) +
                " does not fit a buffer of " + std::to_string(buffer_->bytes()) + " bytes");
  ptr_ = static_cast<char*>(buffer_->data()) + bytes_offset;
}

template <class T>
Tensor Tensor::from(const std::vector<T>& values, Shape shape) {
  if (values.size() != shape.count())
    throw ShapeError("tensor: " + std::to_string(values.size()) + " values for shape " + shape.str());
  Tensor t(shape, Device::cpu, dtype_of<T>());
  std::memcpy(t.raw(), values.data(), t.bytes());
  return t;
}
template Tensor Tensor::from(const std::vector<float>&, Shape);
template Tensor Tensor::from(const std::vector<double>&, Shape);

std::string Tensor::str() const {
  return shape_.str() + " " + dtype_name(dtype_) + (layout_ == Layout::nchw ? " nchw " : " nhwc ") +
         device_name(device_);
}

void Tensor::check_dtype(DType want) const {
  if (want != dtype_)
    throw Error(std::string("tensor: asked for ") + dtype_name(want) + " data of a " + str() + " tensor");
}

Tensor Tensor::to(Device device) const {
  Tensor out(shape_, device, dtype_, layout_);
  out.copy_from(*this);
  return out;
}

Tensor Tensor::to(DType dtype) const {
  if (device_ != Device::cpu) throw Error("tensor: type conversion is host-only, got " + str());
  Tensor out(shape_, Device::cpu, dtype, layout_);
  const size_t n = count();
  auto convert = [&](const auto* src) {
    if (dtype == DType::f32)
      for (size_t i = 0; i < n; ++i) out.data<float>()[i] = float(src[i]);
    else if (dtype == DType::f64)
      for (size_t i = 0; i < n; ++i) out.data<double>()[i] = double(src[i]);
    else
      throw Error(std::string("tensor: no host conversion to ") + dtype_name(dtype));
  };
  if (dtype_ == DType::f32) convert(data<float>());
  else if (dtype_ == DType::f64) convert(data<double>());
  else throw Error(std::string("tensor: no host conversion from ") + dtype_name(dtype_));
  return out;
}

void Tensor::copy_from(const Tensor& src) {
  if (src.shape_ != shape_ || src.dtype_ != dtype_ || src.layout_ != layout_)
    throw ShapeError("tensor: copy from " + src.str() + " into " + str());
  if (bytes() == 0) return;
  if (device_ == Device::cpu && src.device_ == Device::cpu) {
    std::memcpy(ptr_, src.ptr_, bytes());
    return;
  }
  // cudaMemcpy runs on the legacy default stream, which waits for our (blocking) streams: safe order.
  CUDA_CHECK(cudaMemcpy(ptr_, src.ptr_, bytes(), cudaMemcpyDefault));
}

template <class T>
std::vector<T> Tensor::values() const {
  std::vector<T> out(count());
  if (device_ == Device::cpu) {
    std::memcpy(out.data(), data<T>(), bytes());
  } else {
    check_dtype(dtype_of<T>());
    CUDA_CHECK(cudaMemcpy(out.data(), ptr_, bytes(), cudaMemcpyDeviceToHost));
  }
  return out;
}
template std::vector<float> Tensor::values() const;
template std::vector<double> Tensor::values() const;

void Tensor::zero() {
  if (bytes() == 0) return;
  if (device_ == Device::gpu)
    CUDA_CHECK(cudaMemset(ptr_, 0, bytes()));
  else
    std::memset(ptr_, 0, bytes());
}

Tensor Tensor::reshaped(Shape shape) const {
  if (shape.count() != count()) throw ShapeError("tensor: cannot reshape " + str() + " to " + shape.str());
  Tensor t;
  t.buffer_ = buffer_;
  t.ptr_ = ptr_;
  t.shape_ = shape;
  t.device_ = device_;
  t.dtype_ = dtype_;
  t.layout_ = layout_;
  return t;
}

Tensor Tensor::images(int first, int count) const {
  if (layout_ != Layout::nchw || first < 0 || count < 0 || first + count > shape_.n)
    throw ShapeError("tensor: images [" + std::to_string(first) + ", " + std::to_string(first + count) + ") of " + str());
  Tensor t = reshaped(shape_);
  t.shape_.n = count;
  t.ptr_ = static_cast<char*>(ptr_) + size_t(first) * shape_.c * shape_.h * shape_.w * dtype_size(dtype_);
  return t;
}

}  // namespace cupick
