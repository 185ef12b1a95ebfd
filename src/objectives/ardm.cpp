#include "objectives/ardm.h"

#include <torch/torch.h>

#include <algorithm>

#include "core/shard.h"

namespace scorelab {

namespace {

// log p(x_k | x_known) for every variable k: [N, D].
at::Tensor all_log_probs(const ArdmNet& net, const at::Tensor& x, const at::Tensor& known) {
  const at::Tensor logits = net(x * known.to(x.scalar_type()), known);  // [N, D, K]
  TORCH_CHECK(logits.dim() == 3 && logits.size(0) == x.size(0) && logits.size(1) == x.size(1),
              "ardm: the network must return logits [N, D, K]; got ", logits.sizes());
  return torch::log_softmax(logits, -1).gather(-1, x.unsqueeze(-1)).squeeze(-1);
}

// L_t per example for steps t [N] (1-based) and orderings ranks [N, D]: D / (D - t + 1) sum over unknown k.
at::Tensor step_loss(const ArdmNet& net, const at::Tensor& x, const at::Tensor& t, const at::Tensor& ranks) {
  const int64_t d = x.size(1);
  const at::Tensor known = ranks < (t - 1).unsqueeze(1);
  const at::Tensor lp = all_log_probs(net, x, known);
  const at::Tensor unknown_sum = -(lp * (~known).to(lp.scalar_type())).sum(1);
  return unknown_sum * (static_cast<double>(d) / (d - t + 1).to(lp.scalar_type()));
}

}  // namespace

at::Tensor ardm_random_ranks(int64_t n, int64_t d, at::Generator& gen, const at::Tensor& like, const at::Tensor& first) {
  at::Tensor keys = at::rand({n, d}, gen, like.options().dtype(torch::kFloat32));
  if (first.defined()) keys = keys - first.to(keys.scalar_type()).to(keys.device()) * 2.0;  // known ones first
  // argsort of argsort: the rank of each variable in a uniformly random order.
  return keys.argsort(1, /*descending=*/false).argsort(1, /*descending=*/false);
}

LossOutput ardm_loss(const ArdmNet& net, const at::Tensor& x_global, at::Generator& gen) {
  const int64_t n = x_global.size(0), d = x_global.size(1);
  // Draw for the global batch, then keep this process's rows (data parallel, as the other objectives).
  const at::Tensor t_all = at::randint(1, d + 1, {n}, gen, x_global.options().dtype(torch::kLong));
  const at::Tensor ranks_all = ardm_random_ranks(n, d, gen, x_global);
  const at::Tensor x = local_rows(x_global), t = local_rows(t_all), ranks = local_rows(ranks_all);
  const at::Tensor per = step_loss(net, x, t, ranks) / static_cast<double>(d);
  return {per.mean(), per.detach()};
}

at::Tensor ardm_log_prob_ordered(const ArdmNet& net, const at::Tensor& x, const at::Tensor& ranks) {
  const int64_t d = x.size(1);
  at::Tensor total = torch::zeros({x.size(0)}, x.options().dtype(torch::kFloat64));
  for (int64_t step = 0; step < d; ++step) {
    const at::Tensor known = ranks < step;
    const at::Tensor lp = all_log_probs(net, x, known);        // [N, D]
    const at::Tensor now = (ranks == step).to(lp.scalar_type());  // the variable generated at this step
    total += (lp * now).sum(1).to(torch::kFloat64);
  }
  return total;
}

at::Tensor ardm_elbo_estimate(const ArdmNet& net, const at::Tensor& x, int64_t terms, at::Generator& gen) {
  TORCH_CHECK(terms >= 1, "ardm_elbo_estimate: terms must be >= 1");
  const int64_t n = x.size(0), d = x.size(1);
  at::Tensor total = torch::zeros({n}, x.options().dtype(torch::kFloat64));
  for (int64_t j = 0; j < terms; ++j) {
    // t uniform on the stratum [j D / terms, (j + 1) D / terms) of 0..D-1, plus 1; over a uniform j it is uniform.
    const at::Tensor u = at::rand({n}, gen, x.options().dtype(torch::kFloat64));
    const at::Tensor t = ((u + static_cast<double>(j)) * (static_cast<double>(d) / terms)).floor().clamp_max(d - 1)
                             .to(torch::kLong) + 1;
    const at::Tensor ranks = ardm_random_ranks(n, d, gen, x);
    total += step_loss(net, x, t, ranks).to(torch::kFloat64);
  }
  return -total / static_cast<double>(terms);
}

}  // namespace scorelab
