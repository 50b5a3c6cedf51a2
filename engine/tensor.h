// A tensor: a shape, a data type, a memory layout and a place (host or GPU), over a buffer it
// owns or shares. Move-only: copies between host and GPU are always explicit (to(), copy_from()).
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "engine/error.h"

namespace cupick {

// f64 exists for the CPU reference path only (gradient checks in double); bf16/f16 are reserved for
// the GPU path (NHWC, fp32 accumulation) and no layer accepts them yet.
enum class DType : uint8_t { f32, f64, f16, bf16 };
enum class Layout : uint8_t { nchw, nhwc };
enum class Device : uint8_t { cpu, gpu };

size_t dtype_size(DType t);
const char* dtype_name(DType t);
const char* device_name(Device d);
template <class T> constexpr DType dtype_of();
template <> constexpr DType dtype_of<float>() { return DType::f32; }
template <> constexpr DType dtype_of<double>() { return DType::f64; }

// Logical dimensions, always named N, C, H, W whatever the layout in memory.
struct Shape {
  int n = 0, c = 0, h = 0, w = 0;
  size_t count() const { return size_t(n) * c * h * w; }
  bool operator==(const Shape&) const = default;
  std::string str() const;  // "3x64x32x32"
};

// Raw memory, zeroed (on a GPU: zeroed before the constructor returns, whatever stream uses it
// next), freed when the last tensor using it goes.
class Buffer {
 public:
  Buffer(size_t bytes, Device device);
  ~Buffer();
  Buffer(const Buffer&) = delete;
  Buffer& operator=(const Buffer&) = delete;
  void* data() const { return data_; }
  size_t bytes() const { return bytes_; }
  Device device() const { return device_; }

 private:
  void* data_ = nullptr;
  size_t bytes_ = 0;
  Device device_;
};

class Tensor {
 public:
  Tensor() = default;
  // Allocates; the contents are zero.
  explicit Tensor(Shape shape, Device device = Device::cpu, DType dtype = DType::f32,
                  Layout layout = Layout::nchw);
  // A tensor over `bytes_offset` of an existing buffer (the graph plans activations this way).
  Tensor(std::shared_ptr<Buffer> buffer, size_t bytes_offset, Shape shape, DType dtype = DType::f32,
         Layout layout = Layout::nchw);
  Tensor(Tensor&&) noexcept = default;
  Tensor& operator=(Tensor&&) noexcept = default;
  Tensor(const Tensor&) = delete;
  Tensor& operator=(const Tensor&) = delete;

  // Host tensor from values (tests, known-value checks).
  template <class T> static Tensor from(const std::vector<T>& values, Shape shape);

  const Shape& shape() const { return shape_; }
  Device device() const { return device_; }
  DType dtype() const { return dtype_; }
  Layout layout() const { return layout_; }
  size_t count() const { return shape_.count(); }
  size_t bytes() const { return count() * dtype_size(dtype_); }
  bool empty() const { return buffer_ == nullptr; }
  std::string str() const;  // "3x64x32x32 f32 nchw gpu"

  void* raw() { return ptr_; }
  const void* raw() const { return ptr_; }
  template <class T> T* data() { check_dtype(dtype_of<T>()); return static_cast<T*>(ptr_); }
  template <class T> const T* data() const { check_dtype(dtype_of<T>()); return static_cast<const T*>(ptr_); }

  // Explicit copies: to another place, and (host only) to another real type.
  Tensor to(Device device) const;
  Tensor to(DType dtype) const;
  Tensor clone() const { return to(device_); }
  // Same shape and type required; any pair of places.
  void copy_from(const Tensor& src);
  template <class T> std::vector<T> values() const;  // copied to the host
  void zero();
  // Same element count, new logical shape; shares the buffer.
  Tensor reshaped(Shape shape) const;
  // Images [first, first + count) of an NCHW tensor; shares the buffer (a partial batch).
  Tensor images(int first, int count) const;

 private:
  void check_dtype(DType want) const;
  std::shared_ptr<Buffer> buffer_;
  void* ptr_ = nullptr;
  Shape shape_;
  Device device_ = Device::cpu;
  DType dtype_ = DType::f32;
  Layout layout_ = Layout::nchw;
};

}  // namespace cupick
