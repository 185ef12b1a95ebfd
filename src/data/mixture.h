// Mixtures of isotropic Gaussians in D dimensions with exact sampling, log-density and score.
// A Gaussian-smoothed mixture is again a mixture: convolving with N(0, sigma^2 I) adds sigma^2 to
// every component variance (used for exact smoothed densities and exact noise-conditional scores).
#pragma once
#include <ATen/Tensor.h>
#include <ATen/core/Generator.h>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace scorelab {

class GaussianMixture {
 public:
  // weights [K] (normalised here), means [K, D], stds [K] (isotropic per component).
  GaussianMixture(std::vector<double> weights, std::vector<std::vector<double>> means, std::vector<double> stds);

  int64_t dim() const { return dim_; }
  int64_t components() const { return static_cast<int64_t>(weights_.size()); }
  const std::vector<double>& weights() const { return weights_; }
  const std::vector<std::vector<double>>& means() const { return means_; }
  const std::vector<double>& stds() const { return stds_; }
  at::Tensor means_tensor() const;    // [K, D] float64 CPU
  at::Tensor weights_tensor() const;  // [K]
  at::Tensor stds_tensor() const;     // [K]

  // Exact draws, [n, D] float32 on the generator's device.
  at::Tensor sample(int64_t n, at::Generator& gen) const;
  // The same draws (the same random stream as sample) with their components, [n] int64.
  std::pair<at::Tensor, at::Tensor> sample_labelled(int64_t n, at::Generator& gen) const;
  // log p(x), [N]; x is [N, D] of any float dtype/device; computed in float64, returned in x's dtype.
  at::Tensor log_prob(const at::Tensor& x) const;
  // grad_x log p(x), [N, D].
  at::Tensor score(const at::Tensor& x) const;
  // Posterior component responsibilities p(k | x), [N, K].
  at::Tensor responsibilities(const at::Tensor& x) const;
  // The mixture convolved with N(0, sigma^2 I).
  GaussianMixture smoothed(double sigma) const;
  // Largest pairwise distance between component means plus 3 stds: NCSNv2's sigma_max rule.
  double max_pairwise_distance() const;
  // Differential entropy estimate -E log p(x) from `n` exact samples (nats).
  double entropy_estimate(int64_t n, at::Generator& gen) const;
  // Axis-aligned box holding (almost) all the mass: means +- 4 std, per dimension.
  std::vector<std::pair<double, double>> bounding_box(double pad_stds = 4.0) const;

  std::string describe() const;

 private:
  std::vector<double> weights_;
  std::vector<std::vector<double>> means_;
  std::vector<double> stds_;
  int64_t dim_;
};

}  // namespace scorelab
