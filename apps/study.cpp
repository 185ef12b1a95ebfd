// study: a sweep of `compare` runs (src/study/sweep.h).
//   study --axis lr=1e-3,2e-3 --axis hidden=64,128 --seeds 0,1,2 --out DIR -- --method ncsn --dataset mog
// Every cell of the grid runs once per seed in DIR/cells/<cell>/seed-S (resumable: finished runs are reused),
// --jobs J at a time; then DIR/report.md, metrics.json and the plots summarise them.
#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/program_options.hpp>
#include <climits>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <map>
#include <string>
#include <vector>

#include "core/cli.h"
#include "core/runtime.h"
#include "core/wait_policy.h"
#include "core/error.h"
#include "core/io.h"
#include "methods/toy_lab.h"  // command_line
#include "study/sweep.h"

extern char** environ;

namespace fs = std::filesystem;
namespace po = boost::program_options;

namespace {

// The compare binary beside this one.
std::string sibling_compare() {
  char buf[PATH_MAX];
  const ssize_t n = readlink("/proc/self/exe", buf, sizeof(buf) - 1);
  if (n <= 0) return "compare";
  buf[n] = '\0';
  return (fs::path(buf).parent_path() / "compare").string();
}

pid_t spawn(const std::string& app, const std::vector<std::string>& args, const std::string& log) {
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_adddup2(&fa, STDOUT_FILENO, STDERR_FILENO);
  posix_spawn_file_actions_addopen(&fa, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  std::vector<std::string> all{app};
  all.insert(all.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& a : all) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = -1;
  const int rc = posix_spawn(&pid, app.c_str(), &fa, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  if (rc != 0) throw scorelab::DataError("cannot start '" + app + "': " + std::strerror(rc) + " (--app)");
  return pid;
}

std::string joined(const std::string& app, const std::vector<std::string>& args) {
  std::string s = fs::path(app).filename().string();
  for (const auto& a : args) s += " " + a;
  return s;
}

}  // namespace

int main(int argc, char** argv) {
  scorelab::choose_openmp_wait_policy(argv);
  return scorelab::run_main("study", [&] {
    // study's own flags, then `--` and the flags every compare run gets.
    int split = argc;
    for (int i = 1; i < argc; ++i)
      if (std::string(argv[i]) == "--") {
        split = i;
        break;
      }
    std::vector<std::string> base(argv + std::min(split + 1, argc), argv + argc);
    std::vector<std::string> axis_specs, metric_list;
    std::string seeds_spec = "0", out, app;
    int64_t jobs = 1;
    bool summary_only = false;
    po::options_description desc;
    desc.add_options()
        ("axis", po::value(&axis_specs)->composing(), "FLAG=V1,V2,...: a compare flag and its values (repeat for more axes)")
        ("seeds", po::value(&seeds_spec)->default_value(seeds_spec), "the seed axis: a list (0,1,2) or a range (0-4)")
        ("metric", po::value(&metric_list)->composing(),
         "a metric of the report rows to summarise (repeatable; default: those of mmd2, mode_tv, off_mode, test_nll, "
         "fd_classifier, kid_classifier, bits_per_dim, two_stage_bound_bits_per_dim the rows have)")
        ("jobs", po::value(&jobs)->default_value(jobs), "runs at a time (one process each; give compare --threads 1 with --jobs 2 on 2 cores)")
        ("out", po::value(&out), "the sweep folder (required): cells/<cell>/seed-S, report.md, metrics.json, plots")
        ("app", po::value(&app), "the compare binary (default: the one beside study)")
        ("summary-only", po::bool_switch(&summary_only), "run nothing: summarise the finished runs");
    po::variables_map vm;
    if (!scorelab::parse_cli(split, argv, desc, vm,
                             "Usage: study --axis FLAG=V1,V2 [--axis ...] [--seeds 0,1,2] [--jobs J] --out DIR -- COMPARE FLAGS\n"
                             "Runs `compare COMPARE FLAGS --FLAG V --seed S --out DIR/cells/<cell>/seed-S` for every cell\n"
                             "of the grid and every seed (finished runs are reused: rerun the same command to resume),\n"
                             "then writes DIR/report.md, metrics.json and plots (lines with error bars over the seeds for\n"
                             "one axis, heat maps for two)."))
      return 0;
    if (out.empty()) throw scorelab::ConfigError("flag --out: missing; give the sweep folder (e.g. --out reports/tmp/sweep)");
    if (jobs < 1) throw scorelab::ConfigError(scorelab::flag_error("--jobs", std::to_string(jobs), "an integer >= 1"));
    if (split == argc && !summary_only)
      throw scorelab::ConfigError("no `--` before the compare flags; e.g. study --axis lr=1e-3,2e-3 --out DIR -- --method ar --dataset mog");
    const auto axes = scorelab::parse_axes(axis_specs);
    const auto seeds = scorelab::parse_seeds(seeds_spec);
    scorelab::check_base_flags(base, axes);
    const auto cells = scorelab::expand_grid(axes);
    if (app.empty()) app = sibling_compare();
    if (!summary_only && access(app.c_str(), X_OK) != 0)
      throw scorelab::ConfigError("flag --app: '" + app + "' is not an executable compare binary");
    scorelab::ensure_writable_dir(out);
    const std::string command = scorelab::command_line(argc, argv);
    {
      nlohmann::json config = {{"command", command}, {"axes", axis_specs}, {"seeds", seeds}, {"base", base},
                               {"metrics", metric_list},
                               // relative to the working folder (the repository root for the reports), not this
                               // machine's absolute path
                               {"app", fs::path(app).lexically_proximate(fs::current_path()).string()}};
      scorelab::write_json((fs::path(out) / "config.json").string(), config);
    }
    struct Run {
      std::string dir;
      std::vector<std::string> args;
    };
    std::vector<Run> todo;
    for (const auto& cell : cells)
      for (uint64_t s : seeds) {
        const std::string dir = (fs::path(out) / "cells" / cell.name / ("seed-" + std::to_string(s))).string();
        Run r{dir, scorelab::run_args(base, cell, s, dir)};
        if (scorelab::run_finished(dir, r.args)) {
          std::cerr << "[study] reusing " << dir << "\n";
          continue;
        }
        todo.push_back(std::move(r));
      }
    std::vector<std::string> failed;
    if (!summary_only) {
      std::map<pid_t, Run> running;
      size_t next = 0, started = 0;
      auto wait_one = [&] {
        int status = 0;
        const pid_t pid = waitpid(-1, &status, 0);
        if (pid <= 0) return;
        auto it = running.find(pid);
        if (it == running.end()) return;
        const bool ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
        std::cerr << "[study] " << (ok ? "finished " : "FAILED ") << it->second.dir << "\n";
        if (!ok) failed.push_back(it->second.dir + " (log: " + it->second.dir + "/study.log)");
        running.erase(it);
      };
      while (next < todo.size() || !running.empty()) {
        while (next < todo.size() && static_cast<int64_t>(running.size()) < jobs) {
          const Run& r = todo[next++];
          scorelab::write_run_record(r.dir, r.args);
          std::cerr << "[study] run " << ++started << " of " << todo.size() << ": " << joined(app, r.args) << "\n";
          running.emplace(spawn(app, r.args, r.dir + "/study.log"), r);
        }
        wait_one();
      }
    }
    scorelab::summarize_sweep(out, axes, cells, seeds, metric_list, command);
    std::cout << "report: " << out << "/report.md\n";
    if (!failed.empty()) {
      std::string list;
      for (const auto& f : failed) list += (list.empty() ? " " : "; ") + f;
      throw scorelab::DataError(std::to_string(failed.size()) + " run(s) failed (the report holds the others; "
                                "rerun the same command to retry them):" + list);
    }
    return 0;
  });
}
