// Order-agnostic autoregressive diffusion (OA-ARDM; Hoogeboom et al., ICLR 2022) on D discrete variables with K
// categories each (issue 15). One network gives, for any set of known variables, the conditionals of all the
// others:  net(x [N, D] int64 (entries outside `known` are ignored; zeroed here), known [N, D] bool) -> logits
// [N, D, K]. The model is the mixture over orderings sigma of p_sigma(x) = prod_t p(x_sigma(t) | x_sigma(<t)).
//
//   training  t ~ U{1..D}, sigma ~ U(S_D), the first t - 1 variables of sigma known:
//             L_t = D / (D - t + 1) * sum over the unknown variables k of -log p(x_k | x_known);
//             E_t L_t = E_sigma[-log p_sigma(x)] >= -log p(x) (the ELBO; the per-dimension loss is L_t / D);
//   bound     estimated with one ordering (D evaluations, the chain rule: exactly -log p_sigma(x)) or with
//             `terms` values of t stratified over 1..D (each with its own ordering): both unbiased for E_t L_t.
#pragma once
#include <ATen/Tensor.h>
#include <ATen/core/Generator.h>
#include <functional>

#include "objectives/objective.h"

namespace scorelab {

using ArdmNet = std::function<at::Tensor(const at::Tensor& x, const at::Tensor& known)>;

// A uniformly random ordering per row as ranks [N, D] int64: rank[i] = the step (0-based) at which variable i is
// generated. Variables where `first` (bool [N, D], optional) is true get the lowest ranks (they are known first).
at::Tensor ardm_random_ranks(int64_t n, int64_t d, at::Generator& gen, const at::Tensor& like,
                             const at::Tensor& first = {});

// The training objective per example (nats) for integer data x [N, D]: one t and one ordering per example.
// LossOutput::per_example and loss are per dimension (L_t / D).
LossOutput ardm_loss(const ArdmNet& net, const at::Tensor& x, at::Generator& gen);

// log p_sigma(x) [N] (nats) for the orderings `ranks` [N, D]: D network evaluations (the exact log-likelihood of
// one ordering, an unbiased estimate of the ELBO when the ordering is uniformly random).
at::Tensor ardm_log_prob_ordered(const ArdmNet& net, const at::Tensor& x, const at::Tensor& ranks);

// -E_t L_t estimated per example [N] (nats; an ELBO estimate, <= log p(x) in expectation) from `terms` values of t
// stratified over 1..D, each with a fresh random ordering: `terms` network evaluations.
at::Tensor ardm_elbo_estimate(const ArdmNet& net, const at::Tensor& x, int64_t terms, at::Generator& gen);

}  // namespace scorelab
