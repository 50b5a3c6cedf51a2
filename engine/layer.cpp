#include "engine/layer.h"

namespace cupick {

static std::string shapes_str(const std::vector<Shape>& in) {
  std::string s = "[";
  for (size_t i = 0; i < in.size(); ++i) s += (i ? ", " : "") + in[i].str();
  return s + "]";
}

void Layer::fail(const std::string& what, const std::vector<Shape>& in) const {
  throw ShapeError(name_ + " (" + type() + "): " + what + "; inputs " + shapes_str(in));
}

Shape Layer::output_shape(const std::vector<Shape>& in) const {
  const int want = arity();
  if (want >= 0 && int(in.size()) != want)
    fail("expects " + std::to_string(want) + " input(s), got " + std::to_string(in.size()), in);
  if (want < 0 && in.empty()) fail("expects at least one input, got none", in);
  for (const Shape& s : in)
    if (s.n <= 0 || s.c <= 0 || s.h <= 0 || s.w <= 0) fail("empty or negative input shape " + s.str(), in);
  return infer(in);
}

void Layer::to(Device device, DType dtype) {
  for (Param* p : params()) {
    Tensor host = p->value.device() == Device::cpu ? p->value.clone() : p->value.to(Device::cpu);
    if (host.dtype() != dtype) host = host.to(dtype);
    p->value = device == Device::cpu ? std::move(host) : host.to(device);
    p->grad = Tensor();  // made by the first backward: a network that only picks never needs them
  }
  on_moved(device, dtype);
}

void Layer::check(const Context& ctx, const Inputs& in, const Tensor& out, const char* stage) const {
  std::vector<Shape> shapes;
  for (const Tensor* t : in) {
    if (!t) throw ShapeError(name_ + " (" + type() + "): null input in " + stage);
    shapes.push_back(t->shape());
  }
  const Shape want = output_shape(shapes);
  if (out.shape() != want) fail(std::string(stage) + ": output is " + out.shape().str() + ", expected " + want.str(), shapes);
  for (const Tensor* t : in) {
    if (t->device() != ctx.device() || t->dtype() != out.dtype() || t->layout() != out.layout())
      fail(std::string(stage) + ": input " + t->str() + " does not match output " + out.str() + " on " +
               device_name(ctx.device()),
           shapes);
  }
  if (out.device() != ctx.device()) fail(std::string(stage) + ": output " + out.str() + " is not on " + device_name(ctx.device()), shapes);
  if (out.layout() != Layout::nchw) fail(std::string(stage) + ": only NCHW is implemented, got " + out.str(), shapes);
  if (ctx.on_gpu() && out.dtype() != DType::f32)
    fail(std::string(stage) + ": the GPU path takes f32, got " + out.str(), shapes);
  for (Param* p : const_cast<Layer*>(this)->params())
    if (p->value.device() != ctx.device() || p->value.dtype() != out.dtype())
      fail(std::string(stage) + ": parameter " + p->name + " is " + p->value.str() + ", call to() first", shapes);
}

void Layer::forward(Context& ctx, const Inputs& in, Tensor& out, Mode mode) {
  check(ctx, in, out, "forward");
  if (frozen_) mode = Mode::infer;
  if (ctx.on_gpu()) forward_gpu(ctx, in, out, mode);
  else forward_cpu(in, out, mode);
}

void Layer::backward(Context& ctx, const Inputs& in, const Tensor& out, const Tensor& dout, const InputGrads& din) {
  check(ctx, in, out, "backward");
  std::vector<Shape> shapes;
  for (const Tensor* t : in) shapes.push_back(t->shape());
  if (dout.shape() != out.shape() || dout.device() != out.device() || dout.dtype() != out.dtype())
    fail("backward: output gradient " + dout.str() + " does not match output " + out.str(), shapes);
  if (din.size() != in.size())
    fail("backward: " + std::to_string(din.size()) + " input gradients for " + std::to_string(in.size()) + " inputs", shapes);
  for (size_t i = 0; i < din.size(); ++i) {
    const Tensor* g = din[i].tensor;
    if (g && (g->shape() != in[i]->shape() || g->device() != in[i]->device() || g->dtype() != in[i]->dtype()))
      fail("backward: input gradient " + g->str() + " does not match input " + in[i]->str(), shapes);
  }
  for (Param* p : params())
    if (p->trainable && p->grad.empty()) p->grad = Tensor(p->value.shape(), p->value.device(), p->value.dtype());
  if (ctx.on_gpu()) backward_gpu(ctx, in, out, dout, din);
  else backward_cpu(in, out, dout, din);
}

}  // namespace cupick
