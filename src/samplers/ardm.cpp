#include "samplers/ardm.h"

#include <torch/torch.h>

#include <algorithm>

namespace scorelab {

ArdmSampleResult ardm_sample(const ArdmNet& net, int64_t n, int64_t d, int64_t categories, int64_t steps,
                             at::Generator& gen, const at::TensorOptions& options, const at::Tensor& x0,
                             const at::Tensor& known, const StepCallback& callback) {
  TORCH_CHECK(steps >= 0, "ardm_sample: steps must be >= 0");
  const auto long_opts = options.dtype(torch::kLong);
  at::Tensor known_now = known.defined() ? known.to(options.device(), torch::kBool).clone()
                                         : torch::zeros({n, d}, options.dtype(torch::kBool));
  at::Tensor x = x0.defined() ? (x0.to(long_opts) * known_now.to(torch::kLong)) : torch::zeros({n, d}, long_opts);
  const at::Tensor like = torch::empty({0}, options.dtype(torch::kFloat32));
  const at::Tensor ranks = ardm_random_ranks(n, d, gen, like, known_now);  // known variables first
  const at::Tensor k_count = known_now.sum(1, /*keepdim=*/true);           // [n, 1]
  const at::Tensor unknown = (d - k_count).clamp_min(1);
  const int64_t max_unknown = (d - k_count).max().item<int64_t>();
  const int64_t groups = steps == 0 ? max_unknown : std::min(steps, max_unknown);
  // Group of each unknown variable: floor(rank among the unknowns * groups / unknowns), near-equal group sizes.
  const at::Tensor group = ((ranks - k_count) * groups).div(unknown, "floor");
  ArdmSampleResult out;
  for (int64_t s = 0; s < groups; ++s) {
    const at::Tensor now = (group == s) & ~known_now;
    if (!now.any().item<bool>()) continue;
    const at::Tensor logits = net(x * known_now.to(torch::kLong), known_now);  // [n, d, K]
    TORCH_CHECK(logits.dim() == 3 && logits.size(2) == categories, "ardm_sample: logits must be [N, D, ", categories,
                "]; got ", logits.sizes());
    // Gumbel-max: a categorical draw per variable from the generator's stream.
    const at::Tensor u = at::rand(logits.sizes(), gen, logits.options().dtype(torch::kFloat32)).clamp(1e-20, 1.0);
    const at::Tensor draw = (logits.to(torch::kFloat32) - (-u.log()).log()).argmax(-1);
    x = torch::where(now, draw, x);
    known_now = known_now | now;
    ++out.nfe;
    if (callback) callback(s, groups, x.to(torch::kFloat32));
  }
  out.x = x;
  return out;
}

}  // namespace scorelab
