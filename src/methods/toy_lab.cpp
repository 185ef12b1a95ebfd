#include "methods/toy_lab.h"

#include <torch/torch.h>

#include <tuple>

#include <boost/program_options.hpp>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstring>
#include <map>
#include <thread>
#include <cmath>
#include <filesystem>
#include <iostream>
#include <sstream>

#include "core/cli.h"
#include "core/error.h"
#include "core/io.h"
#include "core/precision.h"
#include "data/source.h"
#include "dist/dist.h"
#include "toy/toy.h"
#include "eval/markdown.h"
#include "eval/plot.h"
#include "toy/toy_metrics.h"

namespace po = boost::program_options;
namespace fs = std::filesystem;

namespace scorelab {

void ToyLabConfig::add_options(po::options_description& desc) {
  po::options_description lab("Toy lab");
  lab.add_options()
      ("dataset", po::value(&dataset)->default_value(dataset), ("toy data set: " + toy_dataset_registry().known_list()).c_str())
      ("mixture", po::value(&mixture_file), "JSON mixture {\"weights\", \"means\", \"stds\"} for --dataset file")
      ("method", po::value(&methods)->default_value(methods), ("method, comma list or all: " + toy_method_registry().known_list()).c_str())
      ("samples", po::value(&samples)->default_value(samples), "samples per method for the metrics")
      ("test-size", po::value(&test_size)->default_value(test_size), "held-out exact draws for test NLL")
      ("jobs", po::value(&jobs)->default_value(jobs),
       "methods run at once, one process each with --threads / jobs threads (0: as many as the threads allow; "
       "1: one after another in this process). Results depend on the seed and the threads per method: --jobs 2 "
       "on 2 threads equals --jobs 1 --threads 1")
      ("no-plots", po::bool_switch(&no_plots), "skip the gnuplot figures")
      ("plots", po::bool_switch(&score_field), "also plot learned vs true score fields");
  desc.add(lab);
  po::options_description m("Methods");
  method.add_options(m);
  desc.add(m);
  po::options_description r("Run");
  runtime.add_options(r);
  desc.add(r);
}

void ToyLabConfig::validate() const {
  const DataSource source = data_source(dataset);
  if (!source.mixture())
    throw ConfigError("flag --dataset: '" + dataset + "' is an image data set; this run takes a mixture: " +
                      toy_dataset_registry().known_list());
  if (source.from_file && mixture_file.empty()) throw ConfigError("flag --dataset: '" + dataset + "' needs --mixture FILE");
  if (!source.from_file && !mixture_file.empty())
    throw ConfigError("flag --mixture: given with --dataset " + dataset + "; add --dataset file to use the mixture in '" +
                      mixture_file + "'");
  if (source.from_file && !no_plots) {
    const auto dim = make_toy_dataset(dataset, mixture_file).dim();
    if (dim > 2)
      throw ConfigError("flag --mixture: '" + mixture_file + "' is " + std::to_string(dim) +
                        "-D; the figures need 1-D or 2-D data, add --no-plots");
  }
  for (const auto& name : expand_names(toy_method_registry(), methods))
    toy_method_registry().get(name)(method);  // constructors check method-specific flags (e.g. --sampler)
  if (samples < 2) throw ConfigError(flag_error("--samples", std::to_string(samples), "an integer >= 2"));
  if (test_size < 1) throw ConfigError(flag_error("--test-size", std::to_string(test_size), "an integer >= 1"));
  if (jobs < 0) throw ConfigError(flag_error("--jobs", std::to_string(jobs), "0 (as many as the threads allow) or a count >= 1"));
  method.validate();
  runtime.validate();
}

nlohmann::json ToyLabConfig::to_json() const {
  return {{"dataset", dataset}, {"mixture_file", mixture_file}, {"methods", methods}, {"samples", samples},
          {"test_size", test_size}, {"plots", !no_plots}, {"score_field", score_field},
          {"seed", runtime.seed}, {"threads", runtime.threads}, {"precision", runtime.precision}, {"device", runtime.device}, {"method", method.to_json()}};
}

std::string command_line(int argc, const char* const argv[]) {
  std::string out;
  for (int i = 0; i < argc; ++i) {
    std::string a = i == 0 ? fs::path(argv[0]).filename().string() : argv[i];
    const bool plain = a.find_first_of(" \t'\"$;&|<>*?()") == std::string::npos && !a.empty();
    out += (i ? " " : "") + (plain ? a : "'" + a + "'");
  }
  return out;
}

namespace {

using Clock = std::chrono::steady_clock;

void setup_runtime(const ToyLabConfig& c) {
  set_threads(c.runtime.threads);
  const auto device = resolve_device(c.runtime.device);
  set_precision(c.runtime.precision, c10::Device(c10::kCPU));  // the toy MLPs run on the CPU
  if (device.is_cuda())
    std::cerr << "note: the toy lab runs its small MLPs on the CPU (faster than CUDA at this size)\n";
}

GaussianMixture data_truth(const ToyLabConfig& c) { return make_toy_dataset(c.dataset, c.mixture_file); }

std::string num(const nlohmann::json& j, const char* key, int sig = 4) {
  if (!j.contains(key) || j.at(key).is_null()) return "-";
  return fmt_number(j.at(key).get<double>(), sig);
}

std::string rel(const std::string& dir, const std::string& path) { return fs::relative(path, dir).string(); }

}  // namespace

double pooled_std(const GaussianMixture& g) {
  auto w = g.weights_tensor();
  auto mu = g.means_tensor();
  auto mean = (w.unsqueeze(1) * mu).sum(0);
  auto var = (w * (g.stds_tensor().pow(2) * g.dim() + (mu - mean).pow(2).sum(1))).sum() / g.dim();
  return std::sqrt(var.item<double>());
}

ToyData make_toy_data(const GaussianMixture& truth, uint64_t seed, int64_t test_size) {
  ToyData d{truth, pooled_std(truth), {}, {}, {}};
  auto g = make_generator(derive_seed(seed, "test-set"));
  std::tie(d.test, d.test_labels) = truth.sample_labelled(test_size, g);  // the same draws as sample()
  auto t = std::make_shared<GaussianMixture>(truth);
  d.batch = [t](int64_t n, at::Generator& gen) { return t->sample(n, gen); };
  return d;
}

namespace {
// Every rank's samples of each result, in rank order; wall time of the slowest rank; counters (nfe,
// acceptance rate) averaged over the ranks, weighted by their rows.
void gather_shards(std::vector<NamedSamples>& results, int64_t local, int64_t total) {
  for (auto& r : results) {
    r.samples = dist::gather_rows(r.samples);
    const auto secs = dist::gather_doubles(r.seconds);
    r.seconds = *std::max_element(secs.begin(), secs.end());
    for (auto& [key, value] : r.stats) {
      double sum = 0.0;
      for (double v : dist::gather_doubles(value * static_cast<double>(local))) sum += v;
      value = sum / static_cast<double>(total);
    }
  }
}
}  // namespace

namespace {

// What one method contributes to the comparison: its report rows (metrics of each sample set), the sample sets
// for the figure, its loss curves and its score-field figure (with --plots).
struct MethodOutcome {
  std::vector<std::pair<std::string, nlohmann::json>> rows;  // report key ("ncsn", "smoothed-ar/stage1") -> metrics
  std::vector<at::Tensor> samples;                           // one per row
  std::vector<std::pair<std::string, std::vector<std::pair<double, double>>>> curves;
  std::string score_field_png;  // "" : none
};

// Trains, samples and evaluates one method and scores its samples: the body of the comparison, the same whether
// it runs in this process or in a worker.
MethodOutcome run_method(const ToyLabConfig& c, const std::string& name, const ToyData& data, const at::Tensor& reference,
                         const std::string& ckpt_dir, const std::string& out) {
  const GaussianMixture& truth = data.truth;
  MethodOutcome o;
  std::cerr << "== " << name << " on " << c.dataset << "\n";
  auto method = toy_method_registry().get(name)(c.method);
  seed_module_init(derive_seed(c.runtime.seed, "init/" + name));
  auto train_gen = make_generator(derive_seed(c.runtime.seed, "train/" + name));
  method->train(data, train_gen, ckpt_dir);
  // Data parallel: each rank draws its share of the samples on its own stream; every rank gets them all.
  const auto [first, last] = dist::shard_range(c.samples, dist::rank(), dist::world_size());
  auto sample_gen = make_generator(dist::rank_seed(derive_seed(c.runtime.seed, "sample/" + name)));
  auto results = method->sample(last - first, sample_gen);
  if (dist::active()) gather_shards(results, last - first, c.samples);
  auto eval_gen = make_generator(derive_seed(c.runtime.seed, "eval/" + name));
  nlohmann::json extra = method->evaluate(data, eval_gen);
  for (const auto& r : results) {
    const std::string key = r.name.empty() ? name : name + "/" + r.name;
    nlohmann::json m = toy_metrics_json(compute_toy_metrics(r.samples, reference, truth));
    m["test_nll"] = r.name.empty() && extra.contains("test_nll") ? extra["test_nll"] : nlohmann::json(nullptr);
    m["train_s"] = method->train_seconds;
    m["sample_s"] = r.seconds;
    if (!r.note.empty()) m["note"] = r.note;
    for (const auto& [stat, value] : r.stats) m[stat] = value;  // nfe, acceptance_rate
    if (r.name.empty()) {
      for (auto it = extra.begin(); it != extra.end(); ++it)
        if (it.key() != "test_nll") m[it.key()] = it.value();
      m["training"] = method->train_info;
    }
    o.rows.emplace_back(key, m);
    o.samples.push_back(r.samples);
  }
  o.curves = method->loss_curves;
  if (!c.no_plots && c.score_field && truth.dim() == 2) {
    if (auto fn = method->score_fn()) {
      std::vector<double> levels;
      if (auto level = method->score_level()) {
        levels = {*level};
      } else {
        auto sigmas = toy_sigmas(c.method, truth).sigmas();
        levels = {sigmas.front(), sigmas[sigmas.size() / 2], sigmas.back()};
      }
      o.score_field_png = (fs::path(out) / ("score_field_" + name + ".png")).string();
      plot_score_field(o.score_field_png, truth, *fn, levels, name + ": learned (black) vs true (red) score");
    }
  }
  return o;
}

// A worker's outcome on disk: DIR/NAME.outcome.json (rows, curves, figure) and DIR/NAME.outcome.pt (the samples).
std::string outcome_path(const std::string& ckpt_dir, const std::string& name, const char* ext) {
  return (fs::path(ckpt_dir) / (name + ".outcome" + ext)).string();
}

void save_outcome(const MethodOutcome& o, const std::string& ckpt_dir, const std::string& name) {
  nlohmann::json rows = nlohmann::json::array(), curves = nlohmann::json::array();
  for (const auto& [key, m] : o.rows) rows.push_back({{"key", key}, {"metrics", m}});
  for (const auto& [label, points] : o.curves) curves.push_back({{"label", label}, {"points", points}});
  const std::string pt = outcome_path(ckpt_dir, name, ".pt");
  torch::save(o.samples, pt + ".tmp");
  fs::rename(pt + ".tmp", pt);
  write_json(outcome_path(ckpt_dir, name, ".json"),
             {{"rows", rows}, {"curves", curves}, {"score_field_png", o.score_field_png}});
}

MethodOutcome load_outcome(const std::string& ckpt_dir, const std::string& name) {
  MethodOutcome o;
  const nlohmann::json j = read_json(outcome_path(ckpt_dir, name, ".json"));
  for (const auto& r : j.at("rows")) o.rows.emplace_back(r.at("key").get<std::string>(), r.at("metrics"));
  for (const auto& cv : j.at("curves"))
    o.curves.emplace_back(cv.at("label").get<std::string>(), cv.at("points").get<std::vector<std::pair<double, double>>>());
  o.score_field_png = j.at("score_field_png").get<std::string>();
  torch::load(o.samples, outcome_path(ckpt_dir, name, ".pt"));
  if (o.samples.size() != o.rows.size())
    throw DataError("'" + outcome_path(ckpt_dir, name, ".pt") + "' holds " + std::to_string(o.samples.size()) +
                    " sample sets for " + std::to_string(o.rows.size()) + " report rows");
  return o;
}

volatile std::sig_atomic_t g_forward_signal = 0;
extern "C" void remember_signal(int sig) { g_forward_signal = sig; }

// Runs the methods in worker processes, `jobs` at a time, each with `threads` threads, the costliest first; every
// worker writes its outcome next to the checkpoints and the parent reads them back in method order. Forked before
// this process has started any thread pool (OpenMP, OpenBLAS), so the children start from a clean state. A signal
// (SIGINT / SIGTERM) to this process is passed on to the workers, which checkpoint and stop; then this one stops.
std::vector<MethodOutcome> run_in_workers(const ToyLabConfig& c, const std::vector<std::string>& names, int jobs,
                                          int threads, const std::string& ckpt_dir, const std::string& out) {
  std::vector<size_t> order(names.size());
  std::vector<double> cost(names.size());
  for (size_t i = 0; i < names.size(); ++i) {
    order[i] = i;
    cost[i] = toy_method_registry().get(names[i])(c.method)->relative_cost();
  }
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return cost[a] > cost[b]; });
  for (const auto& name : names) {
    std::error_code ec;
    fs::remove(outcome_path(ckpt_dir, name, ".json"), ec);  // a stale outcome must never be read back
  }
  std::cout.flush();
  std::cerr.flush();
  struct sigaction sa {}, old_int {}, old_term {};
  sa.sa_handler = remember_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, &old_int);
  sigaction(SIGTERM, &sa, &old_term);
  g_forward_signal = 0;
  std::map<pid_t, size_t> running;
  std::vector<std::string> failed;
  int failed_status = 0;  // the first failed worker's exit status
  size_t next = 0;
  bool forwarded = false;
  while (next < order.size() || !running.empty()) {
    while (!g_forward_signal && failed.empty() && next < order.size() && static_cast<int>(running.size()) < jobs) {
      const size_t i = order[next++];
      const pid_t pid = fork();
      if (pid < 0) throw std::runtime_error(std::string("compare: fork failed: ") + std::strerror(errno));
      if (pid == 0) {
        sigaction(SIGINT, &old_int, nullptr);
        sigaction(SIGTERM, &old_term, nullptr);
        // A worker whose parent dies (kill -9) checkpoints and stops instead of running on alone.
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        if (getppid() == 1) _exit(143);
        const int status = run_main("compare", [&] {
          set_threads(threads);
          ToyData data = make_toy_data(data_truth(c), c.runtime.seed, c.test_size);
          auto ref_gen = make_generator(derive_seed(c.runtime.seed, "reference"));
          const at::Tensor reference = data.truth.sample(c.samples, ref_gen);
          save_outcome(run_method(c, names[i], data, reference, ckpt_dir, out), ckpt_dir, names[i]);
          return 0;
        });
        std::cout.flush();
        std::cerr.flush();
        _exit(status);
      }
      running[pid] = i;
    }
    // A signal to this process, or a failed worker, stops the others (they checkpoint): polled, so that a signal
    // arriving between the check and the wait is never missed.
    if ((g_forward_signal || !failed.empty()) && !forwarded) {
      forwarded = true;
      for (const auto& [child, i] : running) kill(child, g_forward_signal ? g_forward_signal : SIGTERM);
    }
    int status = 0;
    const pid_t pid = waitpid(-1, &status, WNOHANG);
    if (pid == 0) {
      usleep(20000);
      continue;
    }
    if (pid < 0) {
      if (errno == EINTR) continue;
      throw std::runtime_error(std::string("compare: waitpid failed: ") + std::strerror(errno));
    }
    auto it = running.find(pid);
    if (it == running.end()) continue;
    const std::string& name = names[it->second];
    running.erase(it);
    const bool ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
    if (!ok && !forwarded) {  // workers stopped by us are not failures of their own
      const std::string how = WIFEXITED(status) ? "exit status " + std::to_string(WEXITSTATUS(status))
                                                : "signal " + std::to_string(WTERMSIG(status));
      failed.push_back(name + " (" + how + ")");
      if (failed_status == 0) failed_status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    }
  }
  sigaction(SIGINT, &old_int, nullptr);
  sigaction(SIGTERM, &old_term, nullptr);
  if (g_forward_signal)
    throw TrainingInterrupted("the method workers were stopped by " +
                                  std::string(g_forward_signal == SIGINT ? "SIGINT" : "SIGTERM") +
                                  " and wrote their checkpoints; rerun with --resume to continue",
                              g_forward_signal);
  if (!failed.empty()) {
    std::string list;
    for (const auto& f : failed) list += (list.empty() ? "" : ", ") + f;
    const std::string what = "the worker process of " + list + " failed" +
                             (failed_status > 0 && failed_status < 128 ? "; its message is above" : "") + "; the other workers "
                             "were stopped after writing their checkpoints (rerun with --resume, or with --jobs 1 to "
                             "run the methods in this process)";
    if (failed_status == 2) throw ConfigError(what);  // the worker's own exit status, as run_main maps it
    if (failed_status == 3) throw DataError(what);
    throw std::runtime_error(what);
  }
  std::vector<MethodOutcome> outcomes;
  for (const auto& name : names) outcomes.push_back(load_outcome(ckpt_dir, name));
  return outcomes;
}

}  // namespace

nlohmann::json run_toy_compare(const ToyLabConfig& c, const std::string& out, const std::string& command) {
  c.validate();
  if (dist::active() && c.samples < dist::world_size())
    throw ConfigError(flag_error("--samples", std::to_string(c.samples), "at least one per data-parallel rank (" +
                                                                           std::to_string(dist::world_size()) + ")"));
  setup_runtime(c);
  const GaussianMixture truth = data_truth(c);
  ensure_writable_dir(out);
  const std::string ckpt_dir = (fs::path(out) / "checkpoints").string();
  ensure_writable_dir(ckpt_dir);
  const std::vector<std::string> names = expand_names(toy_method_registry(), c.methods);
  // Methods in parallel: each worker gets an equal share of the threads.
  const int threads = c.runtime.threads > 0 ? c.runtime.threads
                                            : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  const int jobs = dist::active() ? 1 : std::min<int>(c.jobs > 0 ? c.jobs : threads, static_cast<int>(names.size()));
  nlohmann::json config = c.to_json();
  config["jobs"] = jobs;
  config["command"] = command;
  write_json((fs::path(out) / "config.json").string(), config);
  std::vector<MethodOutcome> outcomes;
  if (jobs > 1) {
    outcomes = run_in_workers(c, names, jobs, std::max(1, threads / jobs), ckpt_dir, out);
    // The reference row with the workers' threads too, so that its double sums (MMD) are reduced in the same order
    // and --jobs N --threads T equals --jobs 1 --threads T/N byte for byte.
    set_threads(std::max(1, threads / jobs));
  }

  ToyData data = make_toy_data(truth, c.runtime.seed, c.test_size);
  auto ref_gen = make_generator(derive_seed(c.runtime.seed, "reference"));
  const at::Tensor reference = truth.sample(c.samples, ref_gen);
  auto floor_gen = make_generator(derive_seed(c.runtime.seed, "floor"));
  const at::Tensor exact = truth.sample(c.samples, floor_gen);

  nlohmann::json metrics = {{"dataset", c.dataset}, {"dataset_description", truth.describe()},
                            {"samples", c.samples}, {"nll_unit", "nats per example"}, {"methods", nlohmann::json::object()}};
  {
    auto m = toy_metrics_json(compute_toy_metrics(exact, reference, truth));
    m["test_nll"] = -truth.log_prob(data.test.to(torch::kFloat64)).mean().item<double>();
    m["train_s"] = 0.0;
    m["sample_s"] = 0.0;
    metrics["reference"] = m;
  }
  std::vector<std::pair<std::string, at::Tensor>> panels{{"data (exact draws)", exact}};
  std::vector<std::pair<std::string, std::vector<std::pair<double, double>>>> curves;
  std::vector<std::string> score_field_pngs;
  for (size_t i = 0; i < names.size(); ++i) {
    if (jobs <= 1) outcomes.push_back(run_method(c, names[i], data, reference, ckpt_dir, out));
    const MethodOutcome& o = outcomes[i];
    for (size_t r = 0; r < o.rows.size(); ++r) {
      metrics["methods"][o.rows[r].first] = o.rows[r].second;
      panels.emplace_back(o.rows[r].first, o.samples[r]);
    }
    for (const auto& lc : o.curves) curves.push_back(lc);
    if (!o.score_field_png.empty()) score_field_pngs.push_back(o.score_field_png);
  }

  std::vector<std::string> figures;
  if (!c.no_plots) {
    const std::string samples_png = (fs::path(out) / "samples.png").string();
    plot_samples(samples_png, truth, panels, "samples on " + c.dataset + " (true log-density in colour)");
    figures.push_back(samples_png);
    if (!curves.empty()) {
      const std::string loss_png = (fs::path(out) / "losses.png").string();
      plot_lines(loss_png, curves, "iteration", "training loss", "training losses");
      figures.push_back(loss_png);
    }
    for (const auto& png : score_field_pngs) figures.push_back(png);
  }
  write_run_metrics(out, metrics);

  std::ostringstream md;
  md << "# Toy comparison on `" << c.dataset << "`\n\n"
     << "Command (from the repository root, after `scripts/setup`):\n\n```\n" << command << "\n```\n\n"
     << "Data: " << truth.describe() << ". Every method draws " << c.samples
     << " samples, scored against the exact distribution: MMD^2 (unbiased, sum of RBF kernels with fixed "
        "bandwidths) against " << c.samples << " exact draws; `mode_tv`, the total-variation distance between "
        "recovered and true mode weights (nearest-mode assignment); `off_mode`, the fraction of samples beyond 3 "
        "std of every mode; `true_logp`, the mean true log-density of the samples; `test_nll`, the negative "
        "log-likelihood of " << c.test_size << " held-out exact draws in nats per example, of the method's kind: "
        "exact for ar, the two-stage variational upper bound for smoothed-ar (conditional-ar denoiser), the "
        "probability-flow ODE for ncsn, the DDPM variational upper bound for ddpm (its ODE estimate is in the "
        "likelihood table below). The `reference` row scores a second set of exact draws: the floor every metric can reach "
        "(its test_nll is the true entropy).\n\n";
  std::vector<std::vector<std::string>> rows;
  auto add_row = [&](const std::string& name, const nlohmann::json& m) {
    rows.push_back({name, num(m, "mmd2"), num(m, "mode_tv", 3), num(m, "off_mode", 3), num(m, "true_logp"),
                    num(m, "test_nll"), num(m, "train_s", 3), num(m, "sample_s", 3),
                    m.contains("note") ? m["note"].get<std::string>() : ""});
  };
  add_row("reference (exact draws)", metrics["reference"]);
  for (auto it = metrics["methods"].begin(); it != metrics["methods"].end(); ++it) add_row(it.key(), it.value());
  md << markdown_table({"method", "mmd2", "mode_tv", "off_mode", "true_logp", "test_nll", "train_s", "sample_s", "note"}, rows)
     << "\n";
  {
    // Every likelihood a method has, with its kind and cost (issue 12).
    std::vector<std::vector<std::string>> lrows;
    lrows.push_back({"reference (true entropy)", "exact", num(metrics["reference"], "test_nll"), "-",
                     std::to_string(c.test_size), "-", "-"});
    for (auto it = metrics["methods"].begin(); it != metrics["methods"].end(); ++it) {
      if (!it.value().contains("likelihoods")) continue;
      for (auto l = it.value()["likelihoods"].begin(); l != it.value()["likelihoods"].end(); ++l)
        lrows.push_back({it.key(), l.value().value("kind", l.key()), num(l.value(), "nll"), num(l.value(), "se"),
                         std::to_string(l.value().value("n", int64_t{0})), num(l.value(), "nfe"),
                         num(l.value(), "seconds", 3)});
    }
    md << "Likelihoods of the held-out draws, nats per example (`se`: standard error of the mean "
          "over the draws; `nfe`: function evaluations per example; ODE: probability flow from sigma_min, where the "
          "data are taken to be, to sigma_max; bounds are upper bounds on the NLL):\n\n"
       << markdown_table({"method", "kind", "nll", "se", "n", "nfe", "seconds"}, lrows)
       << "\nThe ODE rows use the first --ode-examples draws (`n`).\n\n";
  }
  for (auto it = metrics["methods"].begin(); it != metrics["methods"].end(); ++it)
    if (it.value().contains("stage1_nll")) {
      const auto& v = it.value();
      const std::string kind = v.value("smoothing", "noise");
      std::ostringstream corruption;  // the noise form as before blur smoothing, byte for byte
      if (kind == "noise") corruption << "x + " << c.method.sigma << " z";
      else if (kind == "blur") corruption << "B x (blur " << v.value("blur_sigma", 0.0) << ")";
      else corruption << "B x + " << v.value("sigma", 0.0) << " z (blur " << v.value("blur_sigma", 0.0) << ")";
      md << "`" << it.key() << "`: stage-1 NLL of x~ = " << corruption.str() << ": "
         << num(it.value(), "stage1_nll") << " nats per example (the exact smoothed density gives "
         << num(it.value(), "stage1_nll_exact") << " on the same x~).\n\n";
    }
  for (const auto& f : figures) md << "![" << fs::path(f).stem().string() << "](" << rel(out, f) << ")\n\n";
  md << "Full numbers: `metrics.json`; resolved configuration: `config.json`; checkpoints and loss logs: "
        "`checkpoints/` (rerun with `--resume` to reuse them).\n";
  atomic_write_text((fs::path(out) / "report.md").string(), md.str());
  return metrics;
}

}  // namespace scorelab
