#include "dist/dist.h"

#include <unistd.h>

#include <boost/program_options.hpp>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <torch/torch.h>
#include <torch/version.h>
#include <c10/util/Logging.h>
#include <torch/csrc/distributed/c10d/PrefixStore.hpp>
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#ifdef SCORELAB_HAVE_NCCL
#include <c10/cuda/CUDAFunctions.h>
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#endif

#include "core/cli.h"
#include "core/error.h"
#include "core/runtime.h"

namespace po = boost::program_options;

namespace scorelab {

void DistConfig::add_options(po::options_description& desc) {
  desc.add_options()
      ("dist-backend", po::value(&backend)->default_value(backend),
       "data-parallel runs under torchrun / scripts/launch: auto (NCCL on CUDA when built with it, else Gloo) | gloo | nccl")
      ("dist-timeout", po::value(&timeout_s)->default_value(timeout_s),
       "seconds a data-parallel rank waits for the others (rendezvous, each collective) before it stops with an error");
}

void DistConfig::validate() const {
  require_one_of("--dist-backend", backend, {"auto", "gloo", "nccl"});
  require_positive("--dist-timeout", timeout_s);
}

namespace dist {
namespace {

#if TORCH_VERSION_MAJOR >= 2
using Group = c10d::Backend;  // LibTorch 2.x: ProcessGroupGloo / ProcessGroupNCCL are backends
#else
using Group = c10d::ProcessGroup;
#endif

struct State {
  bool initialised = false;
  int rank = 0, world = 1, local_rank = 0, local_world = 1;
  std::string backend, master;
  c10::Device device{c10::kCPU};  // where collectives run: CPU for Gloo, the rank's GPU for NCCL
  std::chrono::milliseconds timeout{300000};
  c10::intrusive_ptr<c10d::Store> store;
  c10::intrusive_ptr<Group> group;
  bool hosts_store = false;       // this rank runs the TCPStore server
  std::vector<std::string> tags;  // "host pid" of every rank, read once after the rendezvous
  int64_t step = -1;              // last heartbeat
};

// Never destroyed at exit: after a failure the store's server thread may sit in a blocking read from a rank
// that was stopped halfway through a request (LibTorch 1.13's TCPStore), and ~TCPStore would join it forever.
// A successful run tears down in order through shutdown(); the OS closes the sockets otherwise.
State& state() {
  static State* s = new State;
  return *s;
}

// Library messages can span lines; ours are one line.
std::string one_line(const std::string& s, size_t max = 200) {
  std::string out;
  for (char c : s.substr(0, s.find("\nException raised from"))) {
    if (out.size() >= max) return out + "...";
    out += (c == '\n' || c == '\r') ? ' ' : c;
  }
  return out;
}

const char* env(const char* name) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0' ? v : nullptr;
}

int env_int(const char* name, int lo, int hi, const std::string& expected) {
  const char* v = env(name);
  char* end = nullptr;
  const long x = std::strtol(v, &end, 10);
  if (end == v || *end != '\0' || x < lo || x > hi)
    throw ConfigError("environment variable " + std::string(name) + ": got '" + v + "'; expected " + expected);
  return static_cast<int>(x);
}

// c10d logs every failed connection attempt of the rendezvous to stderr; the error we raise says it once.
class QuietLibraryLog {
 public:
#ifdef C10_USE_GLOG
  QuietLibraryLog() : old_(FLAGS_minloglevel) { FLAGS_minloglevel = 3; }
  ~QuietLibraryLog() { FLAGS_minloglevel = old_; }
#else
  QuietLibraryLog() : old_(FLAGS_caffe2_log_level) { FLAGS_caffe2_log_level = 3; }
  ~QuietLibraryLog() { FLAGS_caffe2_log_level = old_; }
#endif
  QuietLibraryLog(const QuietLibraryLog&) = delete;
  QuietLibraryLog& operator=(const QuietLibraryLog&) = delete;

 private:
  int old_;
};

std::string seconds_text(std::chrono::milliseconds ms) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", static_cast<double>(ms.count()) / 1000.0);
  return buf;
}

std::string str(const std::vector<uint8_t>& v) { return std::string(v.begin(), v.end()); }
std::vector<uint8_t> bytes(const std::string& s) { return std::vector<uint8_t>(s.begin(), s.end()); }

std::string host_name() {
  char buf[256] = {0};
  ::gethostname(buf, sizeof buf - 1);
  return buf;
}

// "hostname pid" of this process, stored at start-up so that the others can tell whether it still runs.
std::string process_tag() { return host_name() + " " + std::to_string(::getpid()); }

// The state of the process `tag` names when it runs on this machine: "has died" (gone, or a zombie not yet
// reaped), "is stopped (SIGSTOP or a debugger)", or "" (running, or on another machine).
std::string local_process_state(const std::string& tag) {
  const auto space = tag.rfind(' ');
  if (space == std::string::npos || tag.substr(0, space) != host_name()) return "";
  std::ifstream stat("/proc/" + tag.substr(space + 1) + "/stat");
  if (!stat) return "has died";
  std::string line;
  std::getline(stat, line);
  const auto close = line.rfind(')');
  if (close == std::string::npos || close + 2 >= line.size()) return "";
  const char state = line[close + 2];
  if (state == 'Z' || state == 'X') return "has died";
  if (state == 'T' || state == 't') return "is stopped (SIGSTOP or a debugger)";
  return "";
}

// "; rank R (pid P) is stopped ..." / "... has died" when rank r runs on this machine and is stopped or gone, from
// the process tags read at start-up (no store needed: the store itself may be stuck); "" otherwise.
std::string local_rank_state(int r) {
  const State& s = state();
  if (r == s.rank || r >= static_cast<int>(s.tags.size())) return "";
  const std::string what = local_process_state(s.tags[r]);
  if (what.empty()) return "";
  return "; rank " + std::to_string(r) + " (pid " + s.tags[r].substr(s.tags[r].rfind(' ') + 1) + ") " + what;
}

// local_rank_state of every other rank that `named` does not name already ("; rank R ").
std::string peer_states(const std::string& named = "") {
  std::string found;
  for (int r = 0; r < static_cast<int>(state().tags.size()); ++r)
    if (named.find("; rank " + std::to_string(r) + " ") == std::string::npos) found += local_rank_state(r);
  return found;
}

// Why the rendezvous store did not answer, after `named` (what is known already): the stopped or dead ranks on
// this machine, then the store.
std::string store_trouble(const std::string& named = "") {
  const State& s = state();
  const std::string peers = peer_states(named);
  const bool any_stopped = (named + peers).find("is stopped") != std::string::npos;
  if (s.hosts_store)
    return named + peers + "; the rendezvous store this rank hosts at " + s.master + " does not answer (" +
           (any_stopped ? "a rank stopped halfway through a request holds it"
                        : "the machine is overloaded, or a rank on another machine stopped halfway through a request") +
           ")";
  return named + peers + "; the rendezvous store at " + s.master +
         " does not answer: its host (rank 0, or the launcher) has stopped, or a rank stopped halfway through a request "
         "holds it";
}

// Why a collective failed, from what the other ranks left in the store (their reported failures and how far
// they got) and the state of those that run on this machine.
std::string diagnose() {
  State& s = state();
  std::string found;
  try {
    s.store->setTimeout(std::chrono::milliseconds(5000));
    for (int r = 0; r < s.world; ++r) {
      if (r == s.rank) continue;
      const std::string fkey = "failed/" + std::to_string(r), skey = "step/" + std::to_string(r);
      const std::string local = local_rank_state(r);
      if (s.store->check({fkey})) {
        found += "; rank " + std::to_string(r) + " stopped with: " + one_line(str(s.store->get(fkey)));
      } else if (!local.empty()) {
        found += local;
      } else if (s.store->check({skey})) {
        const long long step = std::stoll(str(s.store->get(skey)));
        if (step < s.step)
          found += "; rank " + std::to_string(r) + " is behind (last at training step " + std::to_string(step) +
                   ", this rank at " + std::to_string(s.step) + "): it died or hangs";
      } else if (s.step >= 0) {
        found += "; rank " + std::to_string(r) + " never reached a training step: it died or hangs";
      }
    }
    s.store->setTimeout(s.timeout);
  } catch (const std::exception&) {
    return store_trouble(found);  // what the store said before it stopped answering, then why it stopped
  }
  if (found.empty() && s.world == 2)
    found = "; rank " + std::to_string(1 - s.rank) + " did not take part in time: it hangs, or the network to it failed";
  return found.empty() ? "; no rank reported a failure (a rank died or hangs on another machine, or the network failed)" : found;
}

template <typename F>
void collective(const char* what, F&& run) {
  State& s = state();
  const auto t0 = std::chrono::steady_clock::now();
  try {
    auto work = run(*s.group);
    work->wait();
  } catch (const DistError&) {
    throw;
  } catch (const std::exception& e) {
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.1f", secs);
    throw DistError(std::string(what) + " failed after " + buf + " s (--dist-timeout " +
                    seconds_text(s.timeout) + " s)" + diagnose() + " [" + s.backend + ": " +
                    one_line(e.what(), 160) + "]");
  }
}

at::Tensor on_comm(const at::Tensor& t) { return t.device() == state().device ? t : t.to(state().device); }

void remove_private_dir(const std::string& dir) {
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
}

std::vector<std::string>& private_dirs() {
  static std::vector<std::string> dirs;
  return dirs;
}

}  // namespace

void init(const DistConfig& config, const std::string& device) {
  State& s = state();
  if (s.initialised) return;
  config.validate();
  s.initialised = true;
  if (!env("WORLD_SIZE")) return;
  const int world = env_int("WORLD_SIZE", 1, 1 << 20, "an integer >= 1");
  if (world == 1) return;
  for (const char* name : {"RANK", "MASTER_ADDR", "MASTER_PORT"})
    if (!env(name))
      throw ConfigError("environment variable " + std::string(name) + " is missing although WORLD_SIZE=" +
                        std::to_string(world) + ": start data-parallel runs with torchrun or scripts/launch, which set "
                        "RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR and MASTER_PORT (or unset WORLD_SIZE for one process)");
  s.rank = env_int("RANK", 0, world - 1, "an integer in [0, WORLD_SIZE - 1 = " + std::to_string(world - 1) + "]");
  s.world = world;
  s.local_world = env("LOCAL_WORLD_SIZE") ? env_int("LOCAL_WORLD_SIZE", 1, world, "an integer in [1, WORLD_SIZE]") : world;
  s.local_rank = env("LOCAL_RANK") ? env_int("LOCAL_RANK", 0, s.local_world - 1, "an integer in [0, LOCAL_WORLD_SIZE - 1]") : s.rank;
  const std::string addr = env("MASTER_ADDR");
  const int port = env_int("MASTER_PORT", 1, 65535, "a TCP port in [1, 65535]");
  s.master = addr + ":" + std::to_string(port);
  s.timeout = std::chrono::milliseconds(static_cast<int64_t>(config.timeout_s * 1000));
  const bool cuda = device.rfind("cuda", 0) == 0;
  std::string backend = config.backend;
#ifdef SCORELAB_HAVE_NCCL
  if (backend == "auto") backend = cuda ? "nccl" : "gloo";
#else
  if (backend == "auto") backend = "gloo";
  if (backend == "nccl")
    throw ConfigError("flag --dist-backend: got nccl; this build has no NCCL (Debian's LibTorch is CPU-only): build "
                      "against a CUDA LibTorch (../shared/gpu/README.md) or use --dist-backend gloo");
#endif
  if (backend == "nccl" && !cuda)
    throw ConfigError("flag --dist-backend: got nccl; NCCL needs CUDA, and this run is on " + device +
                      ": use --dist-backend gloo, or --device cuda on a GPU machine");
  s.backend = backend;
  const QuietLibraryLog quiet;
  try {
    c10d::TCPStoreOptions so;
    so.port = static_cast<uint16_t>(port);
    // torchrun hosts the store in its agent; a plain launch (scripts/launch --direct, tests) hosts it on rank 0.
    const bool agent_store = env("TORCHELASTIC_USE_AGENT_STORE") && std::string(env("TORCHELASTIC_USE_AGENT_STORE")) == "True";
    so.isServer = !agent_store && s.rank == 0;
    s.hosts_store = so.isServer;
    if (so.isServer) so.numWorkers = static_cast<size_t>(world);
    so.waitWorkers = false;
    so.timeout = s.timeout;
    auto tcp = c10::make_intrusive<c10d::TCPStore>(addr, so);
    const std::string attempt = env("TORCHELASTIC_RESTART_COUNT") ? env("TORCHELASTIC_RESTART_COUNT") : "0";
    s.store = c10::make_intrusive<c10d::PrefixStore>("scorelab/attempt_" + attempt, tcp);
  } catch (const std::exception& e) {
    throw DistError("cannot reach the rendezvous store at " +
                    s.master + " within --dist-timeout " + seconds_text(s.timeout) +
                    " s (is rank 0 running? is the port free?) [" + one_line(e.what(), 160) + "]");
  }
  try {
    if (backend == "gloo") {
      auto opts = c10d::ProcessGroupGloo::Options::create(s.timeout);
      if (const char* ifname = env("GLOO_SOCKET_IFNAME")) {
        opts->devices.push_back(c10d::ProcessGroupGloo::createDeviceForInterface(ifname));
      } else if (addr == "localhost" || addr.rfind("127.", 0) == 0 || addr == "::1") {
        opts->devices.push_back(c10d::ProcessGroupGloo::createDeviceForHostname("127.0.0.1"));
      } else {
        opts->devices.push_back(c10d::ProcessGroupGloo::createDefaultDevice());
      }
      opts->threads = 2;
      s.group = c10::make_intrusive<c10d::ProcessGroupGloo>(s.store, s.rank, world, opts);
    } else {
#ifdef SCORELAB_HAVE_NCCL
      c10::cuda::set_device(static_cast<c10::DeviceIndex>(s.local_rank));
      s.device = c10::Device(c10::kCUDA, static_cast<c10::DeviceIndex>(s.local_rank));
      auto opts = c10d::ProcessGroupNCCL::Options::create();
      opts->timeout = s.timeout;
      s.group = c10::make_intrusive<c10d::ProcessGroupNCCL>(s.store, s.rank, world, opts);
#endif
    }
  } catch (const std::exception& e) {
    throw DistError("the other ranks did not join within --dist-timeout " +
                    seconds_text(s.timeout) + " s [" + one_line(e.what(), 160) + "]");
  }
  try {
    s.store->set("proc/" + std::to_string(s.rank), bytes(process_tag()));
  } catch (const std::exception& e) {
    throw DistError("cannot write to the rendezvous store at " + s.master + " [" + one_line(e.what(), 160) + "]");
  }
  barrier();
  try {
    for (int r = 0; r < world; ++r) s.tags.push_back(str(s.store->get("proc/" + std::to_string(r))));
  } catch (const std::exception& e) {
    throw DistError("reading the ranks' process tags failed" + store_trouble() + " [" +
                    one_line(e.what(), 120) + "]");
  }
}

void shutdown() {
  State& s = state();
  // The process group first: its connections were set up through the store.
  s.group.reset();
  s.store.reset();
}

bool active() { return state().world > 1; }
int rank() { return state().rank; }
int world_size() { return state().world; }
int local_rank() { return state().local_rank; }
int local_world_size() { return state().local_world; }
std::string backend() { return state().backend; }

std::string describe() {
  const State& s = state();
  return "rank " + std::to_string(s.rank) + " of " + std::to_string(s.world) + (s.backend.empty() ? "" : " (" + s.backend + ")");
}

std::pair<int64_t, int64_t> shard_range(int64_t n, int rank, int world) {
  const int64_t base = n / world, extra = n % world;
  const int64_t begin = rank * base + std::min<int64_t>(rank, extra);
  return {begin, begin + base + (rank < extra ? 1 : 0)};
}

uint64_t rank_seed(uint64_t seed) { return rank() == 0 ? seed : derive_seed(seed, "rank/" + std::to_string(rank())); }

void allreduce_mean(const std::vector<at::Tensor>& tensors, double* seconds, int64_t bucket_bytes) {
  if (!active() || tensors.empty()) return;
  const auto t0 = std::chrono::steady_clock::now();
  torch::NoGradGuard ng;
  size_t i = 0;
  while (i < tensors.size()) {
    // One bucket: consecutive tensors of one dtype and device, up to bucket_bytes (at least one tensor).
    std::vector<at::Tensor> part;
    int64_t bytes = 0;
    const auto dtype = tensors[i].scalar_type();
    const auto dev = tensors[i].device();
    while (i < tensors.size() && tensors[i].scalar_type() == dtype && tensors[i].device() == dev &&
           (part.empty() || bytes + tensors[i].nbytes() <= static_cast<size_t>(bucket_bytes))) {
      part.push_back(tensors[i].reshape({-1}));
      bytes += static_cast<int64_t>(tensors[i].nbytes());
      ++i;
    }
    std::vector<at::Tensor> flat{on_comm(torch::cat(part))};
    collective("all-reduce", [&](Group& g) { return g.allreduce(flat); });
    flat[0].div_(world_size());
    const at::Tensor back = flat[0].to(dev);
    int64_t offset = 0;
    for (size_t k = i - part.size(); k < i; ++k) {
      const int64_t n = tensors[k].numel();
      tensors[k].copy_(back.slice(0, offset, offset + n).view(tensors[k].sizes()));
      offset += n;
    }
  }
  if (seconds) *seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

void broadcast(const std::vector<at::Tensor>& tensors) {
  if (!active()) return;
  torch::NoGradGuard ng;
  for (const auto& t : tensors) {
    std::vector<at::Tensor> v{on_comm(t.contiguous())};
    collective("broadcast", [&](Group& g) { return g.broadcast(v); });
    if (!v[0].is_same(t)) t.copy_(v[0]);
  }
}

std::string broadcast_bytes(const std::string& data) {
  if (!active()) return data;
  at::Tensor n = torch::tensor(std::vector<int64_t>{static_cast<int64_t>(data.size())});
  broadcast({n});
  at::Tensor b = torch::empty({n.item<int64_t>()}, torch::kUInt8);
  if (rank() == 0 && !data.empty()) std::memcpy(b.data_ptr<uint8_t>(), data.data(), data.size());
  broadcast({b});
  return std::string(reinterpret_cast<const char*>(b.data_ptr<uint8_t>()), static_cast<size_t>(b.numel()));
}

at::Tensor gather_rows(const at::Tensor& local) {
  if (!active()) return local;
  const int w = world_size();
  std::vector<at::Tensor> counts_in{on_comm(torch::tensor(std::vector<int64_t>{local.size(0)}))};
  std::vector<std::vector<at::Tensor>> counts_out(1);
  for (int r = 0; r < w; ++r) counts_out[0].push_back(torch::empty_like(counts_in[0]));
  collective("all-gather (row counts)", [&](Group& g) { return g.allgather(counts_out, counts_in); });
  int64_t most = 0;
  std::vector<int64_t> counts;
  for (auto& c : counts_out[0]) counts.push_back(c.cpu().item<int64_t>()), most = std::max(most, counts.back());
  auto shape = local.sizes().vec();
  shape[0] = most;
  at::Tensor padded = torch::zeros(shape, local.options().device(state().device));
  if (local.size(0) > 0) padded.slice(0, 0, local.size(0)).copy_(local);
  std::vector<at::Tensor> in{padded};
  std::vector<std::vector<at::Tensor>> out(1);
  for (int r = 0; r < w; ++r) out[0].push_back(torch::empty_like(padded));
  collective("all-gather", [&](Group& g) { return g.allgather(out, in); });
  std::vector<at::Tensor> rows;
  for (int r = 0; r < w; ++r) rows.push_back(out[0][r].slice(0, 0, counts[r]));
  return torch::cat(rows).to(local.device());
}

at::Tensor sharded_draw(int64_t n, uint64_t seed, c10::Device device,
                        const std::function<at::Tensor(int64_t, int64_t, at::Generator&)>& draw, int64_t chunk) {
  const auto [begin, end] = shard_range(n, rank(), world_size());
  at::Generator gen = make_generator(rank_seed(seed), device);
  auto local = [&, begin = begin, end = end]() {
    if (chunk <= 0 || end - begin <= chunk) return draw(begin, end, gen);
    std::vector<at::Tensor> parts;
    for (int64_t b = begin; b < end; b += chunk) parts.push_back(draw(b, std::min(end, b + chunk), gen));
    return torch::cat(parts, 0);
  };
  if (!active()) return local();
  if (n < world_size())
    throw ConfigError("data parallel: " + std::to_string(n) + " rows to draw cannot be shared by " +
                      std::to_string(world_size()) + " ranks; draw at least one per rank (e.g. --samples)");
  return gather_rows(local());
}

std::vector<double> gather_doubles(double value) {
  if (!active()) return {value};
  const at::Tensor all = gather_rows(torch::tensor(std::vector<double>{value}, torch::kFloat64));
  return std::vector<double>(all.data_ptr<double>(), all.data_ptr<double>() + all.numel());
}

void barrier() {
  if (!active()) return;
  // A tiny all-reduce rather than the backend's barrier: the same failure reporting and timeout.
  std::vector<at::Tensor> v{on_comm(torch::zeros({1}))};
  collective("barrier", [&](Group& g) { return g.allreduce(v); });
}

void heartbeat(int64_t step) {
  State& s = state();
  if (!active()) return;
  s.step = step;
  try {
    s.store->set("step/" + std::to_string(s.rank), bytes(std::to_string(step)));
  } catch (const std::exception& e) {
    throw DistError("recording training step " + std::to_string(step) + " failed" + store_trouble() + " [" +
                    one_line(e.what(), 120) + "]");
  }
}

void report_failure(const std::string& message) {
  State& s = state();
  if (!active() || !s.store) return;
  try {
    s.store->setTimeout(std::chrono::milliseconds(2000));
    s.store->set("failed/" + std::to_string(s.rank), bytes(one_line(message, 300)));
  } catch (...) {
    // The store is gone too; the other ranks find out from their own collectives.
  }
}

std::string output_dir(const std::string& out) {
  if (rank() == 0) return out;
  namespace fs = std::filesystem;
  const fs::path dir = fs::temp_directory_path() /
                       ("scorelab-rank" + std::to_string(rank()) + "-" + std::to_string(::getpid()) + "-" +
                        std::to_string(private_dirs().size()));
  fs::create_directories(dir);
  if (private_dirs().empty())
    std::atexit([] {
      for (const auto& d : private_dirs()) remove_private_dir(d);
    });
  private_dirs().push_back(dir.string());
  return dir.string();
}

}  // namespace dist
}  // namespace scorelab
