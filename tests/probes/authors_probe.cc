// authors_probe MODE DIR CONDITIONING: scorelab's PixelCNN++ against the authors' layout, for
// tests/apps/authors_state_dict.sh (with bench/authors_pixelcnnpp.py).
//   export DIR none|stacked : a tiny PixelCNN++ with perturbed weight norms g (so the norm axis matters) ->
//                             DIR/model.pt (PixelCNNppImpl::reference_state_dict, what `train` writes),
//                             DIR/io.pt {x, out[, cond]} and DIR/config.pt (the sizes)
//   import DIR none|stacked : DIR/authors.pt (torch.save([state_dict with "module." names, {}]) by the
//                             authors' module) read with import_state_dict; prints "max_error E" against
//                             DIR/io_authors.pt's output
// (.cc so that tests/CMakeLists.txt's *.cpp glob keeps it out of the GoogleTest binary.)
#include <torch/torch.h>

#include <iostream>
#include <string>

#include "core/cli.h"
#include "core/error.h"
#include "core/params_io.h"
#include "models/pixelcnnpp.h"

using namespace scorelab;

namespace {
at::Tensor lookup(const std::vector<std::pair<std::string, at::Tensor>>& d, const std::string& key) {
  for (const auto& [k, v] : d)
    if (k == key) return v;
  throw DataError("no entry '" + key + "'");
}
}  // namespace

int main(int argc, char** argv) {
  return run_main("authors_probe", [&] {
    if (argc != 4) throw ConfigError("usage: authors_probe export|import DIR none|stacked");
    const std::string mode = argv[1], dir = argv[2];
    at::set_num_threads(1);
    torch::manual_seed(3);
    PixelCNNppConfig c;
    c.nr_resnet = 1;
    c.nr_filters = 8;
    c.nr_logistic_mix = 3;
    c.input_channels = 1;
    c.conditioning = parse_pixelcnn_conditioning(argv[3]);
    const int64_t size = 8;
    PixelCNNpp net(c);
    net->eval();
    torch::NoGradGuard ng;
    if (mode == "export") {
      for (auto& p : net->named_parameters()) {
        const std::string& k = p.key();
        if (k.size() > 8 && k.compare(k.size() - 8, 8, "weight_g") == 0) p.value().mul_(torch::rand_like(p.value()) + 0.5);
        if (k.size() > 4 && k.compare(k.size() - 4, 4, "bias") == 0) p.value().normal_(0.0, 0.1);
      }
      const at::Tensor x = torch::rand({2, 1, size, size}) * 2 - 1;
      const at::Tensor cond = torch::rand({2, 1, size, size}) * 2 - 1;
      const bool stacked = c.conditioning == PixelCNNConditioning::kStacked;
      const at::Tensor out = stacked ? net->forward(x, cond) : net->forward(x);
      save_tensor_dict(dir + "/model.pt", net->reference_state_dict());
      std::vector<std::pair<std::string, at::Tensor>> io{{"x", x}, {"out", out}};
      if (stacked) io.emplace_back("cond", cond);
      save_tensor_dict(dir + "/io.pt", io);
      save_tensor_dict(dir + "/config.pt", {{"channels", torch::tensor(1)}, {"nr_resnet", torch::tensor(c.nr_resnet)},
                                            {"nr_filters", torch::tensor(c.nr_filters)},
                                            {"nr_mix", torch::tensor(c.nr_logistic_mix)}, {"size", torch::tensor(size)},
                                            {"stacked", torch::tensor(stacked ? 1 : 0)}});
      std::cout << "exported " << net->reference_state_dict().size() << " tensors\n";
      return 0;
    }
    if (mode == "import") {
      import_state_dict(*net, dir + "/authors.pt");
      const auto io = load_tensor_dict(dir + "/io_authors.pt", "the authors' forward");
      const at::Tensor x = lookup(io, "x");
      const at::Tensor out = c.conditioning == PixelCNNConditioning::kStacked ? net->forward(x, lookup(io, "cond"))
                                                                               : net->forward(x);
      std::cout << "max_error " << (out - lookup(io, "out")).abs().max().item<double>() << "\n";
      return 0;
    }
    throw ConfigError(flag_error("MODE", mode, "export or import"));
  });
}
