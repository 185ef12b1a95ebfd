// Any-order generation with an order-agnostic ARDM (objectives/ardm.h; Hoogeboom et al. 2022): the unknown
// variables in a uniformly random order, one per step (D network evaluations), or in `steps` groups, each group
// drawn at once from its conditionals given everything before (parallel decoding: fewer evaluations, the group's
// variables independent given the known ones). Known variables (inpainting) are conditioned on from the start and
// may be anywhere, which a raster-order model cannot do.
#pragma once
#include <ATen/Tensor.h>
#include <ATen/core/Generator.h>

#include "objectives/ardm.h"
#include "samplers/sampler.h"

namespace scorelab {

struct ArdmSampleResult {
  at::Tensor x;       // [N, D] int64
  int64_t nfe = 0;    // network evaluations
};

// Draws [n, d] variables with `categories` classes. steps 0: one variable per step; else min(steps, unknowns)
// groups of near-equal size per row. x0 / known (optional, [n, d]): the variables kept and conditioned on.
// `callback` (optional) sees (step, x as float) after each step.
ArdmSampleResult ardm_sample(const ArdmNet& net, int64_t n, int64_t d, int64_t categories, int64_t steps,
                             at::Generator& gen, const at::TensorOptions& options, const at::Tensor& x0 = {},
                             const at::Tensor& known = {}, const StepCallback& callback = {});

}  // namespace scorelab
