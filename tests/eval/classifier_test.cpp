// Fast classifier tests, plus two slow tests (SlowClassifier.*) that train the real MNIST classifier to
// >= 99% and the Fashion-MNIST one to >= 90% test accuracy. They are skipped unless SCORELAB_SLOW_TESTS=1:
//   SCORELAB_SLOW_TESTS=1 build/tests/scorelab_tests --gtest_filter='SlowClassifier.*'
#include "eval/classifier.h"

#include <gtest/gtest.h>
#include <torch/torch.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/runtime.h"

namespace scorelab {
namespace {

namespace fs = std::filesystem;

bool mnist_present() { return fs::exists(fs::path(resolve_data_root()) / "mnist"); }

class ClassifierFiles : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("scorelab_classifier_" + std::to_string(::getpid()) + "_" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string path(const std::string& name) const { return (dir_ / name).string(); }
  fs::path dir_;
};

TEST(Classifier, ShapesPerArchitecture) {
  seed_module_init(1);
  ImageClassifier lenet = make_classifier("mnist");
  lenet->eval();
  EXPECT_EQ(lenet->arch(), "lenet");
  const at::Tensor x = torch::zeros({4, 1, 28, 28});
  EXPECT_EQ(lenet->features(x).sizes(), (std::vector<int64_t>{4, lenet->feature_dim()}));
  EXPECT_EQ(lenet->forward(x).sizes(), (std::vector<int64_t>{4, 10}));
  EXPECT_TRUE(torch::equal(lenet->classify(lenet->features(x)), lenet->forward(x)));
  EXPECT_THROW(lenet->forward(torch::zeros({4, 3, 32, 32})), c10::Error);

  ImageClassifier resnet = make_classifier("cifar10");
  resnet->eval();
  EXPECT_EQ(resnet->arch(), "resnet");
  const at::Tensor y = torch::zeros({2, 3, 32, 32});
  EXPECT_EQ(resnet->features(y).sizes(), (std::vector<int64_t>{2, resnet->feature_dim()}));
  EXPECT_EQ(resnet->forward(y).sizes(), (std::vector<int64_t>{2, 10}));
  // Batched helpers accept uint8 levels and agree with the float model-scale input.
  const at::Tensor levels = torch::randint(0, 256, {5, 3, 32, 32}, torch::kLong).to(torch::kUInt8);
  EXPECT_TRUE(torch::allclose(classifier_features(resnet, levels, 2), resnet->features(to_model_range(levels)), 1e-5, 1e-5));
  EXPECT_EQ(make_classifier("fashion-mnist")->arch(), "lenet");
  EXPECT_THROW(make_classifier("svhn"), ConfigError);
}

TEST(Classifier, TrainingDropoutNeedsAGeneratorAndIsReproducible) {
  seed_module_init(2);
  ImageClassifier m = make_classifier("mnist");
  m->train();
  const at::Tensor x = torch::zeros({3, 1, 28, 28});
  EXPECT_THROW(m->forward(x), c10::Error);
  at::Generator g1 = make_generator(9), g2 = make_generator(9);
  EXPECT_TRUE(torch::equal(m->forward(x, &g1), m->forward(x, &g2)));
}

TEST_F(ClassifierFiles, SaveLoadRoundTripAndFingerprint) {
  seed_module_init(3);
  ImageClassifier m = make_classifier("fashion-mnist");
  const std::string file = path("c.pt");
  save_classifier(m, "fashion-mnist", file, R"({"test_accuracy": 0.5})");
  ImageClassifier back = load_classifier(file, "fashion-mnist");
  m->eval();
  at::Generator gen = make_generator(3);
  const at::Tensor x = torch::rand({6, 1, 28, 28}, gen) * 2 - 1;
  EXPECT_TRUE(torch::equal(m->forward(x), back->forward(x)));
  EXPECT_EQ(nlohmann::json::parse(classifier_meta(file))["test_accuracy"], 0.5);

  // A classifier for another dataset (same or other architecture) is a clear DataError.
  for (const std::string other : {"mnist", "cifar10"}) {
    try {
      load_classifier(file, other);
      ADD_FAILURE() << "loaded a fashion-mnist classifier as " << other;
    } catch (const DataError& e) {
      const std::string msg = e.what();
      EXPECT_NE(msg.find(file), std::string::npos) << msg;
      EXPECT_NE(msg.find("'fashion-mnist'"), std::string::npos) << msg;
      EXPECT_NE(msg.find("'" + other + "'"), std::string::npos) << msg;
    }
  }
  EXPECT_THROW(save_classifier(m, "cifar10", path("wrong.pt")), ConfigError);
  EXPECT_THROW(load_classifier(path("missing.pt"), "mnist"), DataError);
  std::ofstream(path("junk.pt")) << "not a pickle";
  EXPECT_THROW(load_classifier(path("junk.pt"), "mnist"), DataError);
  // A truncated file.
  const std::string bytes = [&] {
    std::ifstream in(file, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
  }();
  std::ofstream(path("cut.pt"), std::ios::binary) << bytes.substr(0, bytes.size() / 2);
  EXPECT_THROW(load_classifier(path("cut.pt"), "fashion-mnist"), DataError);
}

TEST(Classifier, DefaultCachePathIsUnderTheDataRoot) {
  EXPECT_EQ(default_classifier_path("mnist", "/x/data"), "/x/data/classifiers/mnist/classifier.pt");
}

TEST(Classifier, ResnetTrainsOneStepWithAugmentation) {
  // Synthetic colour data: exercises BatchNorm, shifts and flips; a few steps lower the loss on the batch.
  at::Generator gen = make_generator(4);
  seed_module_init(4);
  ImageDataset d{torch::randint(0, 256, {16, 3, 32, 32}, gen, torch::kLong).to(torch::kUInt8),
                 torch::arange(16, torch::kLong) % 2, "cifar10"};
  ImageClassifier m = make_classifier("cifar10");
  ClassifierTrainConfig cfg;
  cfg.epochs = 2;
  cfg.batch_size = 8;
  cfg.augment = true;
  const ClassifierTrainResult r = train_classifier(m, d, d, cfg, gen);
  EXPECT_EQ(r.epoch_loss.size(), 2u);
  EXPECT_EQ(r.train_size, 16);
  EXPECT_GE(r.test_accuracy, 0.0);
  EXPECT_FALSE(m->is_training());
  cfg.epochs = -1;
  EXPECT_THROW(train_classifier(m, d, d, cfg, gen), ConfigError);
  EXPECT_EQ(default_classifier_epochs("mnist"), 3);
  EXPECT_EQ(default_classifier_epochs("fashion-mnist"), 10);
  EXPECT_THROW(default_classifier_epochs("svhn"), ConfigError);
}

TEST(Classifier, TinyMnistTrainingBeatsChance) {
  if (!mnist_present()) GTEST_SKIP() << "run scripts/get-data mnist";
  const ImageDataset train = load_image_dataset("mnist", "train");
  const ImageDataset test = load_image_dataset("mnist", "test");
  seed_module_init(5);
  ImageClassifier m = make_classifier("mnist");
  at::Generator gen = make_generator(5);
  ClassifierTrainConfig cfg;
  cfg.epochs = 3;
  cfg.batch_size = 20;
  cfg.lr = 5e-3;
  cfg.train_limit = 400;
  cfg.test_limit = 500;
  const ClassifierTrainResult r = train_classifier(m, train, test, cfg, gen);
  // Chance is ~0.1; 400 images and 3 epochs (60 steps) reach ~0.75.
  RecordProperty("test_accuracy", std::to_string(r.test_accuracy));
  EXPECT_GT(r.test_accuracy, 0.5) << "accuracy " << r.test_accuracy << ", losses " << r.epoch_loss.front() << " -> " << r.epoch_loss.back();
  EXPECT_LT(r.epoch_loss.back(), r.epoch_loss.front());
  EXPECT_EQ(r.test_size, 500);
  EXPECT_DOUBLE_EQ(r.test_accuracy, classifier_accuracy(m, test.images.slice(0, 0, 500), test.labels.slice(0, 0, 500)));
}

TEST_F(ClassifierFiles, LoadOrTrainTrainsOnceThenLoads) {
  if (!mnist_present()) GTEST_SKIP() << "run scripts/get-data mnist";
  ClassifierTrainConfig cfg;
  cfg.epochs = 1;
  cfg.train_limit = 200;
  cfg.test_limit = 200;
  const std::string cache = path("cache/mnist/classifier.pt");
  bool trained = false;
  ImageClassifier a = load_or_train_classifier("mnist", "", cache, 7, cfg, &trained);
  EXPECT_TRUE(trained);
  ASSERT_TRUE(fs::exists(cache));
  const nlohmann::json meta = nlohmann::json::parse(classifier_meta(cache));
  EXPECT_EQ(meta["seed"], 7);
  EXPECT_EQ(meta["train_size"], 200);
  ImageClassifier b = load_or_train_classifier("mnist", "", cache, 7, cfg, &trained);
  EXPECT_FALSE(trained);
  const at::Tensor x = to_model_range(load_image_dataset("mnist", "test").images.slice(0, 0, 8));
  EXPECT_TRUE(torch::equal(a->forward(x), b->forward(x)));
  EXPECT_THROW(load_or_train_classifier("fashion-mnist", "", cache, 7, cfg), DataError);
}

// Trains the real classifier of `dataset` with its default settings and returns the result.
ClassifierTrainResult train_default_classifier(const std::string& dataset) {
  const ImageDataset train = load_image_dataset(dataset, "train");
  const ImageDataset test = load_image_dataset(dataset, "test");
  seed_module_init(derive_seed(0, "classifier-init"));
  ImageClassifier m = make_classifier(dataset);
  at::Generator gen = make_generator(derive_seed(0, "classifier-train"));
  return train_classifier(m, train, test, ClassifierTrainConfig{}, gen);
}

bool slow_tests_enabled() {
  const char* slow = std::getenv("SCORELAB_SLOW_TESTS");
  return slow != nullptr && std::string(slow) == "1";
}
const char* const kSlowHint = "slow (minutes): SCORELAB_SLOW_TESTS=1 build/tests/scorelab_tests --gtest_filter='SlowClassifier.*'";

TEST(SlowClassifier, MnistReaches99PercentTestAccuracy) {
  if (!slow_tests_enabled()) GTEST_SKIP() << kSlowHint;
  if (!mnist_present()) GTEST_SKIP() << "run scripts/get-data mnist";
  const ClassifierTrainResult r = train_default_classifier("mnist");
  EXPECT_GE(r.test_accuracy, 0.99) << "after " << r.seconds << " s";
  EXPECT_EQ(r.test_size, 10000);
  EXPECT_EQ(r.epochs, 3);
}

// Measured: 91.41% after the default 10 epochs (~4 min on one core); 5 epochs gave 89.57%.
TEST(SlowClassifier, FashionMnistReaches90PercentTestAccuracy) {
  if (!slow_tests_enabled()) GTEST_SKIP() << kSlowHint;
  if (!fs::exists(fs::path(resolve_data_root()) / "fashion-mnist")) GTEST_SKIP() << "run scripts/get-data fashion-mnist";
  const ClassifierTrainResult r = train_default_classifier("fashion-mnist");
  EXPECT_GE(r.test_accuracy, 0.90) << "after " << r.seconds << " s";
  EXPECT_EQ(r.test_size, 10000);
  EXPECT_EQ(r.epochs, 10);
}

}  // namespace
}  // namespace scorelab
