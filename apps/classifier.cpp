// classifier: trains the small evaluation classifier of a dataset (LeNet-like for MNIST / Fashion-MNIST, a
// small ResNet for CIFAR-10) whose features give fd_classifier / kid_classifier (REFERENCE 5), and writes
// DIR/classifier.pt, DIR/metrics.json (test accuracy and the real-test-vs-real-train floor) and DIR/timings.json.
#include <boost/program_options.hpp>
#include <iostream>
#include <nlohmann/json.hpp>

#include "core/cli.h"
#include "core/error.h"
#include "core/io.h"
#include "core/runtime.h"
#include "core/wait_policy.h"
#include "eval/classifier.h"
#include "eval/sample_quality.h"
#include "methods/toy_lab.h"

int main(int argc, char** argv) {
  scorelab::choose_openmp_wait_policy(argv);
  return scorelab::run_main("classifier", [&] {
    namespace po = boost::program_options;
    scorelab::ClassifierTrainConfig config;
    scorelab::RuntimeConfig runtime;
    std::string dataset = "mnist", data_dir;
    bool quiet = false;
    po::options_description desc;
    desc.add_options()
        ("dataset", po::value(&dataset)->default_value(dataset), "mnist | fashion-mnist | cifar10")
        ("data-dir", po::value(&data_dir), "data root (default: $SCORELAB_DATA or <repo>/data)")
        ("epochs", po::value(&config.epochs)->default_value(config.epochs),
         "training epochs (0: the dataset's default: mnist 3, fashion-mnist 10, cifar10 10)")
        ("batch-size", po::value(&config.batch_size)->default_value(config.batch_size), "minibatch size")
        ("lr", po::value(&config.lr)->default_value(config.lr), "Adam learning rate (cosine-decayed to 0)")
        ("weight-decay", po::value(&config.weight_decay)->default_value(config.weight_decay), "Adam L2 weight decay")
        ("train-limit", po::value(&config.train_limit)->default_value(config.train_limit), "use the first N training images (0: all)")
        ("test-limit", po::value(&config.test_limit)->default_value(config.test_limit), "evaluate on the first N test images (0: all)")
        ("augment", po::bool_switch(&config.augment), "random 2-px shifts (and flips for cifar10)")
        ("quiet", po::bool_switch(&quiet), "no per-epoch lines on stderr");
    runtime.add_options(desc);
    po::variables_map vm;
    if (!scorelab::parse_cli(argc, argv, desc, vm,
                             "Usage: classifier --dataset mnist|fashion-mnist|cifar10 [--data-dir D] [--out DIR] [--epochs E]\n"
                             "                  [--seed S] [--augment] [--train-limit N]\n"
                             "Trains the evaluation classifier; DIR gets classifier.pt (the file load_or_train_classifier\n"
                             "caches, default data/classifiers/<dataset>/classifier.pt), metrics.json and timings.json (wall clock).",
                             &runtime.config_file))
      return 0;
    runtime.validate();
    if (runtime.precision != "fp32")
      throw scorelab::ConfigError("flag --precision: got '" + runtime.precision + "'; the evaluation classifier trains "
                                  "in fp32 only (its features define FD/KID-classifier); drop the flag");
    scorelab::classifier_arch_for(dataset);  // validates --dataset
    config.validate();
    config.verbose = !quiet;
    const std::string out = runtime.out_or_default("classifier-" + dataset);
    scorelab::ensure_writable_dir(out);
    scorelab::set_threads(runtime.threads);
    const c10::Device device = scorelab::resolve_device(runtime.device);

    const scorelab::ImageDataset train = scorelab::load_image_dataset(dataset, "train", data_dir);
    const scorelab::ImageDataset test = scorelab::load_image_dataset(dataset, "test", data_dir);
    scorelab::seed_module_init(scorelab::derive_seed(runtime.seed, "classifier-init"));
    scorelab::ImageClassifier model = scorelab::make_classifier(dataset);
    at::Generator gen = scorelab::make_generator(scorelab::derive_seed(runtime.seed, "classifier-train"));
    const scorelab::ClassifierTrainResult r = scorelab::train_classifier(model, train, test, config, gen, device);

    nlohmann::json metrics = {
        {"dataset", dataset},          {"arch", model->arch()},
        {"test_accuracy", r.test_accuracy}, {"seconds", r.seconds},
        {"epochs", r.epochs},          {"batch_size", config.batch_size},
        {"lr", config.lr},             {"weight_decay", config.weight_decay},
        {"augment", config.augment},   {"seed", runtime.seed},
        {"train_size", r.train_size},  {"test_size", r.test_size},
        {"epoch_loss", r.epoch_loss},  {"epoch_test_accuracy", r.epoch_test_accuracy},
        {"feature_dim", model->feature_dim()}, {"device", device.str()},
        {"command", scorelab::command_line(argc, argv)}};
    model->to(torch::kCPU);
    // The floor of fd_classifier / kid_classifier: the test images used above vs as many training images.
    const int64_t n_floor = std::min(r.test_size, train.images.size(0));
    const at::Tensor f_test = scorelab::classifier_features(model, test.images.slice(0, 0, n_floor));
    const at::Tensor f_train = scorelab::classifier_features(model, train.images.slice(0, 0, n_floor));
    const scorelab::KidResult kid_floor = scorelab::kid(f_test, f_train, gen);
    metrics["floor"] = {{"fd_classifier", scorelab::frechet_distance(f_test, f_train)},
                        {"kid_classifier", {{"mean", kid_floor.mean}, {"std", kid_floor.std},
                                            {"subsets", kid_floor.subsets}, {"subset_size", kid_floor.subset_size}}},
                        {"what", "the first " + std::to_string(n_floor) + " test vs the first " + std::to_string(n_floor) + " training images"}};
    scorelab::save_classifier(model, dataset, out + "/classifier.pt", metrics.dump());
    scorelab::write_run_metrics(out, metrics);
    std::cout << dataset << " " << model->arch() << " classifier: test accuracy " << r.test_accuracy << " after "
              << r.epochs << " epochs (" << r.seconds << " s); results in " << out << "\n";
    return 0;
  });
}
