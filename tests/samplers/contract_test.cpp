// One contract suite over every registered sampler (STYLE 10), plus config and registry checks.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <boost/program_options.hpp>

#include "core/cli.h"
#include "core/runtime.h"
#include "samplers/registry.h"
#include "samplers/sampler.h"

namespace scorelab {
namespace {

constexpr int64_t kDim = 2;
constexpr double kStd = 0.5;  // data: N(0.3, kStd^2 I)
constexpr double kMean = 0.3;

// Exact inputs for every sampler: Gaussian score / eps and a Gaussian AR chain.
SamplerArgs full_args() {
  SamplerArgs a;
  a.config.step_size = 0.05;
  a.config.steps_per_level = 3;
  a.config.final_denoise = true;
  a.config.ddim_steps = 5;
  a.config.eta = 0.5;  // stochastic DDIM, so "different seed -> different" covers the noise path too
  a.score = [](const at::Tensor& x, double sigma) { return (x - kMean) * (-1.0 / (kStd * kStd + sigma * sigma)); };
  a.betas = std::make_shared<BetaSchedule>(BetaSchedule::linear(20, 1e-3, 0.2));
  a.eps = eps_from_score(a.score, *a.betas);
  a.sigmas = std::make_shared<SigmaSchedule>(2.0, 0.1, 3);
  a.process = std::make_shared<VarianceExploding>(*a.sigmas);
  a.log_density = [](const at::Tensor& x, double sigma) {
    return (x - kMean).pow(2).sum(1) * (-0.5 / (kStd * kStd + sigma * sigma));
  };
  a.ar_positions = kDim;
  a.ar_draw = [](const at::Tensor& x, int64_t pos, at::Generator& gen) {
    at::Tensor z = torch::randn({x.size(0)}, gen, x.options());
    return pos == 0 ? z : x.select(1, pos - 1) * 0.5 + z;
  };
  return a;
}

class SamplerContract : public ::testing::TestWithParam<std::string> {
 protected:
  std::unique_ptr<Sampler> make() const { return sampler_registry().get(GetParam())(full_args()); }
  // A starting point for samplers whose init is not meaningful (they take given samples).
  static at::Tensor given_start() { return torch::linspace(-1.0, 1.0, 16 * kDim).reshape({16, kDim}).to(at::kFloat); }
  // Runs the whole sampler with `seed`; returns the samples, or given_start()-based ones.
  at::Tensor run(const Sampler& s, uint64_t seed, bool from_given) const {
    at::Generator gen = make_generator(seed);
    if (from_given) return run_sampler_from(s, given_start(), gen);
    return run_sampler(s, 16, {kDim}, gen);
  }
  bool from_given(const Sampler& s) const {
    at::Generator gen = make_generator(0);
    try {
      s.init(4, {kDim}, gen);
      return false;
    } catch (const ConfigError&) {
      throw;
    } catch (const std::logic_error& e) {
      EXPECT_NE(std::string(e.what()).find("run_sampler_from"), std::string::npos) << e.what();
      return true;
    }
  }
};

TEST_P(SamplerContract, NameAndSteps) {
  auto s = make();
  EXPECT_EQ(s->name(), GetParam());
  EXPECT_GT(s->num_steps(), 0);
}

TEST_P(SamplerContract, InitShapeAndStepKeepsShapeAndFiniteness) {
  auto s = make();
  const bool given = from_given(*s);
  at::Generator gen = make_generator(1);
  at::Tensor x;
  if (given) {
    x = given_start();
  } else {
    x = s->init(8, {kDim}, gen);
    EXPECT_EQ(x.sizes(), (std::vector<int64_t>{8, kDim}));
    EXPECT_TRUE(torch::isfinite(x).all().item<bool>());
    EXPECT_EQ(x.scalar_type(), at::kFloat);
  }
  torch::NoGradGuard no_grad;
  const at::Tensor before = x.clone();
  for (int64_t i : {int64_t{0}, s->num_steps() / 2, s->num_steps() - 1}) {
    at::Tensor y = s->step(x, i, gen).x;
    EXPECT_EQ(y.sizes(), x.sizes()) << "step " << i;
    EXPECT_TRUE(torch::isfinite(y).all().item<bool>()) << "step " << i;
  }
  EXPECT_TRUE(torch::equal(x, before)) << "step modified its input";
  EXPECT_THROW(s->step(x, s->num_steps(), gen), c10::Error);
}

TEST_P(SamplerContract, SameSeedSameSamplesDifferentSeedDifferent) {
  auto s = make();
  const bool given = from_given(*s);
  at::Tensor a = run(*s, 11, given), b = run(*s, 11, given);
  EXPECT_TRUE(torch::isfinite(a).all().item<bool>());
  EXPECT_TRUE(torch::equal(a, b));
  if (!given) {  // the from-given samplers here are deterministic maps
    at::Tensor c = run(*s, 12, given);
    EXPECT_FALSE(torch::allclose(a, c));
  }
}

TEST_P(SamplerContract, CallbackSeesEveryStep) {
  auto s = make();
  const bool given = from_given(*s);
  int64_t calls = 0, last = -1;
  at::Generator gen = make_generator(3);
  auto cb = [&](int64_t i, int64_t n, const at::Tensor& x) {
    EXPECT_EQ(i, last + 1);
    EXPECT_EQ(n, s->num_steps());
    EXPECT_EQ(x.size(0), 16);
    last = i;
    ++calls;
  };
  if (given)
    run_sampler_from(*s, given_start(), gen, StepCallback(cb));
  else
    run_sampler(*s, 16, {kDim}, gen, StepCallback(cb));
  EXPECT_EQ(calls, s->num_steps());
}

// Each factory names the input it lacks.
TEST_P(SamplerContract, MissingInputIsAConfigErrorNamingIt) {
  const auto& factory = sampler_registry().get(GetParam());
  int missing_checks = 0;
  auto expect_missing = [&](const std::string& field, const std::function<void(SamplerArgs&)>& clear) {
    SamplerArgs a = full_args();
    clear(a);
    try {
      factory(a);
    } catch (const ConfigError& e) {
      const std::string msg = e.what();
      EXPECT_NE(msg.find(field), std::string::npos) << msg;
      EXPECT_NE(msg.find(GetParam()), std::string::npos) << msg;
      ++missing_checks;
    }
  };
  expect_missing("score", [](SamplerArgs& a) { a.score = nullptr; });
  expect_missing("eps", [](SamplerArgs& a) { a.eps = nullptr; });
  expect_missing("ar_draw", [](SamplerArgs& a) { a.ar_draw = nullptr; });
  expect_missing("ar_positions", [](SamplerArgs& a) { a.ar_positions = 0; });
  expect_missing("sigmas", [](SamplerArgs& a) { a.sigmas.reset(); });
  expect_missing("betas", [](SamplerArgs& a) { a.betas.reset(); });
  expect_missing("process", [](SamplerArgs& a) { a.process.reset(); });
  expect_missing("log_density", [](SamplerArgs& a) { a.log_density = nullptr; });
  EXPECT_GT(missing_checks, 0) << "no input of " << GetParam() << " is checked";
  // Empty args: whichever is checked first, it is a ConfigError.
  EXPECT_THROW(factory(SamplerArgs{}), ConfigError);
}

// Every step reports its state: a known level is a valid marginal, x0-hat (where given) has x's shape, the
// projection hook sees exactly the known levels and what it returns is the state the next step gets.
TEST_P(SamplerContract, StepOutputsAndProjectionHook) {
  auto s = make();
  const bool given = from_given(*s);
  at::Generator gen = make_generator(4);
  int64_t outputs = 0, projections = 0, known_levels = 0;
  at::Tensor projected;
  SamplerHooks hooks;
  hooks.on_output = [&](int64_t i, const StepOutput& out) {
    EXPECT_EQ(out.x.sizes(), (std::vector<int64_t>{16, kDim})) << i;
    if (out.denoised.defined()) EXPECT_EQ(out.denoised.sizes(), out.x.sizes()) << i;
    if (out.level.known()) {
      ++known_levels;
      EXPECT_GE(out.level.sigma, 0.0) << i;
      EXPECT_GT(out.level.alpha, 0.0) << i;
      EXPECT_NEAR(out.level.std, out.level.alpha * out.level.sigma, 1e-9 + 1e-6 * out.level.std) << i;
    }
    ++outputs;
  };
  hooks.project = [&](const at::Tensor& x, const NoiseLevel& level, at::Generator&) {
    EXPECT_TRUE(level.known());
    ++projections;
    projected = x.clone();
    projected.select(1, 0).fill_(0.25);  // a constraint the next step must see
    return projected;
  };
  hooks.on_step = [&](int64_t i, int64_t, const at::Tensor& x) {
    if (projected.defined()) EXPECT_TRUE(torch::equal(x, projected)) << "step " << i << " kept another state";
    projected = at::Tensor();
  };
  if (given)
    run_sampler_from(*s, given_start(), gen, hooks);
  else
    run_sampler(*s, 16, {kDim}, gen, hooks);
  EXPECT_EQ(outputs, s->num_steps());
  EXPECT_EQ(projections, known_levels + (!given && s->init_level().known() ? 1 : 0));
}

TEST_P(SamplerContract, FactoryValidatesConfig) {
  SamplerArgs a = full_args();
  a.config.step_size = -1.0;
  EXPECT_THROW(sampler_registry().get(GetParam())(a), ConfigError);
}

INSTANTIATE_TEST_SUITE_P(AllSamplers, SamplerContract, ::testing::ValuesIn(sampler_registry().names()),
                         [](const ::testing::TestParamInfo<std::string>& info) {
                           std::string name = info.param;
                           for (char& c : name)
                             if (c == '-') c = '_';
                           return name;
                         });

TEST(SamplerRegistry, HasEveryNamedSampler) {
  for (const char* name : {"langevin", "annealed-langevin", "ddpm", "ddim", "autoregressive", "single-step", "pc",
                           "ode", "edm"})
    EXPECT_TRUE(sampler_registry().contains(name)) << name;
  EXPECT_THROW(sampler_registry().get("euler"), ConfigError);
}

TEST(SamplerRegistry, StepCountsFollowTheConfig) {
  SamplerArgs a = full_args();
  const auto& reg = sampler_registry();
  EXPECT_EQ(reg.get("langevin")(a)->num_steps(), 3);
  EXPECT_EQ(reg.get("annealed-langevin")(a)->num_steps(), 3 * 3 + 1);  // L T + final denoising
  a.config.final_denoise = false;
  EXPECT_EQ(reg.get("annealed-langevin")(a)->num_steps(), 3 * 3);
  EXPECT_EQ(reg.get("ddpm")(a)->num_steps(), 20);
  EXPECT_EQ(reg.get("ddim")(a)->num_steps(), 5);
  EXPECT_EQ(reg.get("autoregressive")(a)->num_steps(), kDim);
  EXPECT_EQ(reg.get("single-step")(a)->num_steps(), 1);
  EXPECT_EQ(reg.get("pc")(a)->num_steps(), 5);
  EXPECT_EQ(reg.get("ode")(a)->num_steps(), 5);
  EXPECT_EQ(reg.get("edm")(a)->num_steps(), 5);
}

// A method checks --sampler against what its model offers, before any training.
TEST(SamplerRegistry, CheckSamplerNamesWhatIsMissingAndWhatFits) {
  EXPECT_NO_THROW(check_sampler("pc", {"score", "process"}, "method x"));
  EXPECT_TRUE(sampler_fits("ddim", {"eps", "betas"}));
  EXPECT_FALSE(sampler_fits("ddim", {"score", "sigmas"}));
  try {
    check_sampler("ddim", {"score", "sigmas", "process"}, "method ncsn");
    ADD_FAILURE() << "no error";
  } catch (const ConfigError& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("method ncsn cannot use 'ddim': it needs eps, betas"), std::string::npos) << msg;
    EXPECT_NE(msg.find("samplers that fit: annealed-langevin, edm, langevin, ode, pc"), std::string::npos) << msg;
  }
  EXPECT_THROW(check_sampler("euler", {"score"}, "method x"), ConfigError);
}

TEST(DdimTimesteps, UniformAndQuadMatchTheDdimCode) {
  std::vector<int64_t> uniform = ddim_timesteps(1000, 50, "uniform");
  ASSERT_EQ(uniform.size(), 50u);
  EXPECT_EQ(uniform.front(), 980);
  EXPECT_EQ(uniform[1], 960);
  EXPECT_EQ(uniform.back(), 0);
  // int(np.linspace(0, np.sqrt(800), 10) ** 2), reversed.
  EXPECT_EQ(ddim_timesteps(1000, 10, "quad"), (std::vector<int64_t>{800, 632, 483, 355, 246, 158, 88, 39, 9, 0}));
  EXPECT_EQ(ddim_timesteps(10, 10, "uniform"), (std::vector<int64_t>{9, 8, 7, 6, 5, 4, 3, 2, 1, 0}));
  EXPECT_EQ(ddim_timesteps(1000, 3, "uniform"), (std::vector<int64_t>{666, 333, 0}));
  // Step counts that do not divide T still start near T (x_T ~ N(0, I) must hold there).
  EXPECT_GE(ddim_timesteps(1000, 600, "uniform").front(), 998);
  EXPECT_EQ(ddim_timesteps(1000, 600, "uniform").back(), 0);
  EXPECT_THROW(ddim_timesteps(10, 11, "uniform"), ConfigError);
  EXPECT_THROW(ddim_timesteps(10, 0, "uniform"), ConfigError);
  // Repeated timesteps are dropped: int(np.linspace(0, np.sqrt(8), 8) ** 2) = 0 0 0 1 2 4 5 8.
  EXPECT_EQ(ddim_timesteps(10, 8, "quad"), (std::vector<int64_t>{8, 5, 4, 2, 1, 0}));
  EXPECT_THROW(ddim_timesteps(100, 10, "log"), ConfigError);
}

// Parses flags into a SamplerConfig the way apps do.
SamplerConfig parse(std::vector<const char*> flags) {
  namespace po = boost::program_options;
  SamplerConfig cfg;
  po::options_description desc;
  cfg.add_options(desc);
  flags.insert(flags.begin(), "test");
  po::variables_map vm;
  po::store(po::parse_command_line(static_cast<int>(flags.size()), flags.data(), desc), vm);
  po::notify(vm);
  return cfg;
}

TEST(SamplerConfig, FlagsBind) {
  SamplerConfig d = parse({});
  EXPECT_FALSE(d.final_denoise);
  EXPECT_FALSE(d.clip_x0.has_value());
  EXPECT_NO_THROW(d.validate());
  SamplerConfig c = parse({"--step-size", "0.1", "--steps-per-level", "7", "--step-rule", "ncsnv2", "--final-denoise",
                           "--ddpm-variance", "large", "--clip-x0", "1", "--steps", "20", "--eta", "0.3",
                           "--spacing", "quad"});
  EXPECT_DOUBLE_EQ(c.step_size, 0.1);
  EXPECT_EQ(c.steps_per_level, 7);
  EXPECT_EQ(c.step_rule, "ncsnv2");
  EXPECT_TRUE(c.final_denoise);
  EXPECT_EQ(c.variance, "large");
  ASSERT_TRUE(c.clip_x0.has_value());
  EXPECT_DOUBLE_EQ(*c.clip_x0, 1.0);
  EXPECT_EQ(c.ddim_steps, 20);
  EXPECT_DOUBLE_EQ(c.eta, 0.3);
  EXPECT_EQ(c.spacing, "quad");
  EXPECT_NO_THROW(c.validate());
}

TEST(SamplerConfig, ValidateNamesTheBadFlag) {
  auto expect_bad = [](const std::string& flag, const std::function<void(SamplerConfig&)>& set) {
    SamplerConfig c;
    set(c);
    try {
      c.validate();
      ADD_FAILURE() << "no error for " << flag;
    } catch (const ConfigError& e) {
      EXPECT_NE(std::string(e.what()).find(flag), std::string::npos) << e.what();
    }
  };
  expect_bad("--step-size", [](SamplerConfig& c) { c.step_size = 0; });
  expect_bad("--step-size", [](SamplerConfig& c) { c.step_size = std::nan(""); });
  expect_bad("--steps-per-level", [](SamplerConfig& c) { c.steps_per_level = 0; });
  expect_bad("--step-rule", [](SamplerConfig& c) { c.step_rule = "euler"; });
  expect_bad("--ddpm-variance", [](SamplerConfig& c) { c.variance = "learned"; });
  expect_bad("--clip-x0", [](SamplerConfig& c) { c.clip_x0 = -1.0; });
  expect_bad("--steps", [](SamplerConfig& c) { c.ddim_steps = 0; });
  expect_bad("--eta", [](SamplerConfig& c) { c.eta = -0.1; });
  expect_bad("--eta", [](SamplerConfig& c) { c.eta = 1.5; });
  expect_bad("--spacing", [](SamplerConfig& c) { c.spacing = "log"; });
  expect_bad("init box", [](SamplerConfig& c) { c.init_low = 1.0, c.init_high = -1.0; });
  expect_bad("--snr", [](SamplerConfig& c) { c.snr = 0; });
  expect_bad("--corrector-steps", [](SamplerConfig& c) { c.corrector_steps = -1; });
  expect_bad("--ode-solver", [](SamplerConfig& c) { c.ode_solver = "rk23"; });
  expect_bad("--rtol", [](SamplerConfig& c) { c.rtol = 0; });
  expect_bad("--atol", [](SamplerConfig& c) { c.atol = -1; });
  expect_bad("--rho", [](SamplerConfig& c) { c.rho = 0; });
  expect_bad("--churn", [](SamplerConfig& c) { c.churn = -1; });
  expect_bad("--s-tmax", [](SamplerConfig& c) { c.s_tmin = 2, c.s_tmax = 1; });
  expect_bad("--s-noise", [](SamplerConfig& c) { c.s_noise = -1; });
}

TEST(AutoregressiveSampler, FillsPositionsInOrder) {
  SamplerArgs a = full_args();
  a.ar_positions = 3;
  std::vector<int64_t> seen;
  a.ar_draw = [&seen](const at::Tensor& x, int64_t pos, at::Generator&) {
    // Positions before pos are filled, the rest still zero.
    for (int64_t j = 0; j < 3; ++j)
      EXPECT_EQ(x.select(1, j).eq(0).all().item<bool>(), j >= pos) << "pos " << pos << " j " << j;
    seen.push_back(pos);
    return torch::full({x.size(0)}, static_cast<double>(pos + 1), x.options());
  };
  auto s = sampler_registry().get("autoregressive")(a);
  at::Generator gen = make_generator(0);
  at::Tensor x = run_sampler(*s, 4, {3}, gen);
  EXPECT_EQ(seen, (std::vector<int64_t>{0, 1, 2}));
  EXPECT_TRUE(torch::equal(x, torch::tensor({1.0f, 2.0f, 3.0f}).repeat({4, 1})));
  EXPECT_THROW(s->init(4, {2}, gen), c10::Error);  // 2 entries for 3 positions
}

}  // namespace
}  // namespace scorelab
