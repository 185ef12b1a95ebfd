// dist_probe MODE [N]: exercises dist/dist.h under scripts/launch, for tests/apps/dist.cmake.
//   sample N : sharded_draw of N rows of [3] normals; rank 0 prints "rows R distinct D"
//   reduce   : allreduce_mean in small buckets over mixed sizes; rank 0 prints "max_error E"
//   gather   : gather_rows with a different row count per rank; rank 0 prints "rows R order ok|bad"
//   die K    : rank 1 exits (status 9) before collective K; the others run collectives until one fails
//   wedge K  : before collective K rank 1 sends the first byte of a store request (the query type; 0 is SET in
//              LibTorch 1.13) on a connection of its own and stops itself (SIGSTOP) halfway through it; the others
//              run collectives until one fails
// (.cc so that tests/CMakeLists.txt's *.cpp glob keeps it out of the GoogleTest binary.)
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <torch/torch.h>

#include <csignal>
#include <cstdlib>
#include <iostream>
#include <set>
#include <string>

#include "core/cli.h"
#include "core/runtime.h"
#include "dist/dist.h"

using namespace scorelab;

int main(int argc, char** argv) {
  return run_main("dist_probe", [&] {
    const std::string mode = argc > 1 ? argv[1] : "";
    const int64_t n = argc > 2 ? std::atoll(argv[2]) : 10;
    DistConfig config;
    if (const char* t = std::getenv("PROBE_TIMEOUT")) config.timeout_s = std::atof(t);
    dist::init(config, "cpu");
    at::set_num_threads(1);
    if (mode == "sample") {
      const at::Tensor x = dist::sharded_draw(n, 123, c10::Device(c10::kCPU), [](int64_t b, int64_t e, at::Generator& g) {
        return at::normal(0.0, 1.0, {e - b, 3}, g);
      });
      std::set<std::vector<float>> rows;
      for (int64_t i = 0; i < x.size(0); ++i) {
        const at::Tensor r = x[i].contiguous();
        rows.insert(std::vector<float>(r.data_ptr<float>(), r.data_ptr<float>() + 3));
      }
      if (dist::rank() == 0) std::cout << "rows " << x.size(0) << " distinct " << rows.size() << "\n";
    } else if (mode == "reduce") {
      std::vector<at::Tensor> ts;
      for (int64_t k : {1, 7, 1000, 3, 50000, 2})
        ts.push_back(torch::full({k}, static_cast<float>(dist::rank() + 1) * static_cast<float>(k)));
      dist::allreduce_mean(ts, nullptr, /*bucket_bytes=*/4096);
      const double w = dist::world_size();
      double err = 0.0;
      for (const auto& t : ts) {
        const double k = static_cast<double>(t.numel());
        err = std::max(err, (t - k * (w + 1) / 2).abs().max().item<double>());
      }
      if (dist::rank() == 0) std::cout << "max_error " << err << "\n";
    } else if (mode == "gather") {
      const at::Tensor mine = torch::full({dist::rank() + 1, 2}, static_cast<double>(dist::rank()), torch::kFloat64);
      const at::Tensor all = dist::gather_rows(mine);
      bool ok = true;
      int64_t row = 0;
      for (int r = 0; r < dist::world_size(); ++r)
        for (int k = 0; k <= r; ++k, ++row) ok = ok && all[row][0].item<double>() == r;
      if (dist::rank() == 0) std::cout << "rows " << all.size(0) << " order " << (ok ? "ok" : "bad") << "\n";
    } else if (mode == "die") {
      for (int64_t k = 0;; ++k) {
        if (k == n && dist::rank() == 1) std::_Exit(9);
        dist::heartbeat(k);
        dist::barrier();
      }
    } else if (mode == "wedge") {
      for (int64_t k = 0;; ++k) {
        if (k == n && dist::rank() == 1) {
          const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
          sockaddr_in addr{};
          addr.sin_family = AF_INET;
          addr.sin_port = htons(static_cast<uint16_t>(std::atoi(std::getenv("MASTER_PORT"))));
          ::inet_pton(AF_INET, std::getenv("MASTER_ADDR"), &addr.sin_addr);
          if (fd < 0 || ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) std::_Exit(8);
          const unsigned char set_query = 0;
          if (::send(fd, &set_query, 1, 0) != 1) std::_Exit(8);
          std::raise(SIGSTOP);
        }
        dist::heartbeat(k);
        dist::barrier();
      }
    } else {
      throw ConfigError("dist_probe: mode '" + mode + "'; expected sample, reduce, gather, die or wedge");
    }
    return 0;
  });
}
