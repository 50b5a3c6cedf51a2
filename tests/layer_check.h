// Checks every layer goes through: a finite-difference gradient check in double on the host, the
// accumulate/overwrite contract, and CPU-vs-GPU parity of forward and backward.
#pragma once
#include <gtest/gtest.h>

#include <functional>
#include <ostream>
#include <memory>
#include <vector>

#include "engine/layer.h"
#include "tests/gpu_skip.h"

namespace cupick::test {

using LayerFactory = std::function<std::unique_ptr<Layer>()>;

// Uniform values in [lo, hi), repeatable from the seed; host tensor of the given type.
Tensor random_tensor(Shape shape, DType dtype, unsigned seed, double lo = -1, double hi = 1);
// Gives every parameter repeatable random values (moving variances stay positive).
void randomize_params(Layer& layer, unsigned seed);

// Central differences in double for every input element and every trainable parameter element (a
// random subset of `max_checks` each when larger), compared with backward(). L = sum(out * r).
// Points where the function is not smooth (leaky ReLU at 0, max-pool ties) are skipped: there the
// differences with step h and h/2 disagree. Fails if more than 5% of the points are skipped.
void gradient_check(Layer& layer, const std::vector<Shape>& in_shapes, Mode mode, unsigned seed = 1,
                    size_t max_checks = 300);

// backward with GradMode::accumulate adds to what the gradient held; overwrite ignores it.
void accumulate_check(Layer& layer, const std::vector<Shape>& in_shapes, Mode mode, unsigned seed = 2);

// Same layer on CPU and GPU with the same parameters and inputs: outputs, input gradients, parameter
// gradients (overwritten, then accumulated onto random values) and (train mode) updated
// non-trainable parameters agree within
// |gpu - cpu| <= atol * max|cpu| + rtol * |cpu|. Skips when there is no GPU.
void parity_check(const LayerFactory& make, const std::vector<Shape>& in_shapes, Mode mode, unsigned seed = 3,
                  double rtol = 1e-4, double atol = 1e-5);

// Compares two host arrays, reporting the worst element; `what` names the quantity in the message.
void expect_close(const std::vector<double>& got, const std::vector<double>& want, double rtol, double atol,
                  const std::string& what);

}  // namespace cupick::test

namespace cupick {
// Readable shapes in test names and failure messages.
inline std::ostream& operator<<(std::ostream& os, const Shape& s) { return os << s.str(); }
}  // namespace cupick
