// Every layer case of the table (tests/layer_cases.cpp) through every check that it asks for: the
// finite-difference gradient check and the accumulate check on the host, known values on the host
// and on a GPU, CPU-vs-GPU parity (skipped without a GPU).
#include <gmock/gmock.h>
#include <gtest/gtest-spi.h>

#include <cmath>
#include <cstdlib>
#include <limits>
#include <set>

#include "tests/layer_cases.h"
#include "tests/layer_check.h"

namespace cupick::test {
namespace {

std::vector<LayerCase> cases_where(bool (*wanted)(const LayerCase&)) {
  std::vector<LayerCase> picked;
  for (const LayerCase& c : layer_cases())
    if (wanted(c)) picked.push_back(c);
  return picked;
}
std::string case_name(const ::testing::TestParamInfo<LayerCase>& info) { return info.param.name(); }

}  // namespace

// Readable cases in failure messages.
void PrintTo(const LayerCase& c, std::ostream* os) { *os << c.name(); }

namespace {

TEST(LayerCases, EveryRegisteredTypeHasACase) {
  for (const LayerType& t : layer_types()) {
    bool gradient = false, accumulate = false, parity = false;
    for (const LayerCase& c : layer_cases())
      if (c.type == t.type) gradient |= c.gradient, accumulate |= c.accumulate, parity |= c.parity;
    EXPECT_TRUE(gradient) << t.type << ": no gradient case in tests/layer_cases.cpp";
    EXPECT_TRUE(accumulate) << t.type << ": no accumulate case in tests/layer_cases.cpp";
    EXPECT_TRUE(parity) << t.type << ": no CPU-vs-GPU parity case in tests/layer_cases.cpp";
  }
}

TEST(LayerCases, NamesAreUniqueAndTypesRegistered) {
  std::set<std::string> names;
  for (const LayerCase& c : layer_cases()) {
    EXPECT_TRUE(names.insert(c.name()).second) << c.name() << " twice";
    EXPECT_NE(find_layer_type(c.type), nullptr) << c.name();
    EXPECT_EQ(c.make()->type(), c.type);
  }
}

void skip_without_a_gpu() { SKIP_WITHOUT(static_cast<Context*>(nullptr)); }

// What every GPU test does without a GPU: fail where one is required, skip otherwise.
TEST(GpuSkip, FailsWhenAGpuIsRequired) {
  const char* before = std::getenv("CUPICK_REQUIRE_GPU");
  const std::string saved = before ? before : "";
  setenv("CUPICK_REQUIRE_GPU", "1", 1);
  EXPECT_FATAL_FAILURE(skip_without_a_gpu(), "CUPICK_REQUIRE_GPU=1, but no usable GPU");
  if (before) setenv("CUPICK_REQUIRE_GPU", saved.c_str(), 1);
  else unsetenv("CUPICK_REQUIRE_GPU");
}

class LayerGradient : public ::testing::TestWithParam<LayerCase> {};
TEST_P(LayerGradient, MatchesFiniteDifferences) {
  const std::unique_ptr<Layer> layer = GetParam().make();
  gradient_check(*layer, GetParam().in, GetParam().mode);
}
INSTANTIATE_TEST_SUITE_P(Table, LayerGradient, ::testing::ValuesIn(cases_where([](const LayerCase& c) {
                           return c.gradient;
                         })),
                         case_name);

class LayerAccumulate : public ::testing::TestWithParam<LayerCase> {};
TEST_P(LayerAccumulate, AddsOntoTheGradient) {
  const std::unique_ptr<Layer> layer = GetParam().make();
  accumulate_check(*layer, GetParam().in, GetParam().mode);
}
INSTANTIATE_TEST_SUITE_P(Table, LayerAccumulate, ::testing::ValuesIn(cases_where([](const LayerCase& c) {
                           return c.accumulate;
                         })),
                         case_name);

class LayerParity : public ::testing::TestWithParam<LayerCase> {};
TEST_P(LayerParity, CpuMatchesGpu) {
  const LayerCase& c = GetParam();
  parity_check([&c] { return c.make(); }, c.in, c.mode, 3, c.rtol, c.atol);
}
INSTANTIATE_TEST_SUITE_P(Table, LayerParity, ::testing::ValuesIn(cases_where([](const LayerCase& c) {
                           return c.parity;
                         })),
                         case_name);

// Forward (and backward, where the case gives dout) on ctx's device against the hand-worked values.
void check_known(const LayerCase& c, Context& ctx) {
  const KnownValues& k = *c.known;
  const std::unique_ptr<Layer> layer = c.make();
  layer->to(ctx.device());
  std::vector<Tensor> in;
  Inputs ptrs;
  for (size_t i = 0; i < c.in.size(); ++i) in.push_back(Tensor::from<float>(k.in[i], c.in[i]).to(ctx.device()));
  for (const Tensor& t : in) ptrs.push_back(&t);
  ASSERT_EQ(layer->output_shape(c.in), k.out_shape);
  Tensor out(k.out_shape, ctx.device());
  layer->forward(ctx, ptrs, out, c.mode);
  EXPECT_EQ(out.values<float>(), k.out) << "forward on " << ctx.describe();
  if (k.dout.empty()) return;
  const Tensor dout = Tensor::from<float>(k.dout, out.shape()).to(ctx.device());
  std::vector<Tensor> din;
  InputGrads grads;
  for (const Shape& s : c.in)  // overwrite must not read what the gradient held
    din.push_back(Tensor::from(std::vector<float>(s.count(), std::numeric_limits<float>::quiet_NaN()), s).to(ctx.device()));
  for (Tensor& t : din) grads.push_back({&t, GradMode::overwrite});
  layer->backward(ctx, ptrs, out, dout, grads);
  for (size_t i = 0; i < din.size(); ++i)
    EXPECT_EQ(din[i].values<float>(), k.din[i]) << "gradient of input " << i << " on " << ctx.describe();
}

class LayerKnownValues : public ::testing::TestWithParam<LayerCase> {};
TEST_P(LayerKnownValues, OnEveryDevice) {
  Context cpu;
  check_known(GetParam(), cpu);
  if (std::unique_ptr<Context> gpu = Context::try_gpu()) check_known(GetParam(), *gpu);
  else if (gpu_required()) FAIL() << "CUPICK_REQUIRE_GPU=1, but no usable GPU";
}
INSTANTIATE_TEST_SUITE_P(Table, LayerKnownValues, ::testing::ValuesIn(cases_where([](const LayerCase& c) {
                           return c.known != nullptr;
                         })),
                         case_name);

}  // namespace
}  // namespace cupick::test
