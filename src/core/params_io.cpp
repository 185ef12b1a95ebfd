#include "core/params_io.h"

#include <openssl/evp.h>
#include <torch/serialize.h>
#include <torch/torch.h>

#include <iomanip>
#include <sstream>

#include "core/error.h"
#include "core/io.h"

namespace scorelab {

namespace {
std::vector<std::pair<std::string, at::Tensor>> named_state(const torch::nn::Module& module) {
  std::vector<std::pair<std::string, at::Tensor>> out;
  for (const auto& p : module.named_parameters(true)) out.emplace_back(p.key(), p.value());
  for (const auto& b : module.named_buffers(true)) out.emplace_back(b.key(), b.value());
  return out;
}
}  // namespace

std::string params_sha256(const torch::nn::Module& module) {
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  EVP_DigestInit_ex(ctx, EVP_sha256(), nullptr);
  for (const auto& [name, t] : named_state(module)) {
    auto c = t.detach().to(torch::kCPU).contiguous();
    std::ostringstream header;
    header << name << ':' << c.scalar_type() << ':' << c.sizes() << ';';
    const std::string h = header.str();
    EVP_DigestUpdate(ctx, h.data(), h.size());
    EVP_DigestUpdate(ctx, c.data_ptr(), c.numel() * c.element_size());
  }
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_DigestFinal_ex(ctx, digest, &len);
  EVP_MD_CTX_free(ctx);
  std::ostringstream hex;
  for (unsigned int i = 0; i < len; ++i) hex << std::hex << std::setw(2) << std::setfill('0') << int(digest[i]);
  return hex.str();
}

void save_tensor_dict(const std::string& path, const std::vector<std::pair<std::string, at::Tensor>>& tensors) {
  c10::Dict<std::string, at::Tensor> dict;
  for (const auto& [name, t] : tensors) dict.insert(name, t.detach().to(torch::kCPU).contiguous());
  const std::vector<char> bytes = torch::pickle_save(c10::IValue(dict));
  atomic_write_text(path, std::string(bytes.begin(), bytes.end()));
}

std::vector<std::pair<std::string, at::Tensor>> load_tensor_dict(const std::string& path, const std::string& what) {
  const std::string text = read_file(path);
  std::vector<std::pair<std::string, at::Tensor>> out;
  try {
    auto value = torch::pickle_load(std::vector<char>(text.begin(), text.end()));
    if (!value.isGenericDict()) throw DataError("'" + path + "' does not hold a dict of tensors; expected " + what);
    for (const auto& kv : value.toGenericDict()) out.emplace_back(kv.key().toStringRef(), kv.value().toTensor());
  } catch (const c10::Error& e) {
    throw DataError("'" + path + "' is not " + what + " (" + e.what_without_backtrace() + ")");
  }
  return out;
}

void export_state_dict(const torch::nn::Module& module, const std::string& path) {
  std::vector<std::pair<std::string, at::Tensor>> tensors;
  for (const auto& [name, t] : named_state(module)) tensors.emplace_back(name, t);
  save_tensor_dict(path, tensors);
}

namespace {
// Sizes without trailing 1s: [out, in, 1, 1] and [out, in] hold the same values in the same order.
std::vector<int64_t> core_sizes(at::IntArrayRef sizes) {
  std::vector<int64_t> s(sizes.begin(), sizes.end());
  while (!s.empty() && s.back() == 1) s.pop_back();
  return s;
}
}  // namespace

void import_state_dict(torch::nn::Module& module, const std::string& path) {
  const std::string text = read_file(path);
  c10::IValue value;
  try {
    value = torch::pickle_load(std::vector<char>(text.begin(), text.end()));
  } catch (const c10::Error& e) {
    throw DataError("'" + path + "' is not a state dict written by torch.save / scorelab: " + e.what_without_backtrace());
  }
  // The authors' checkpoints are torch.save([model.state_dict(), optimizer.state_dict()]): take the first.
  if ((value.isList() || value.isTuple())) {
    const auto items = value.isList() ? value.toListRef().vec() : value.toTupleRef().elements().vec();
    if (!items.empty() && items.front().isGenericDict()) value = items.front();
  }
  if (!value.isGenericDict()) throw DataError("'" + path + "' does not hold a dict of tensors");
  auto dict = value.toGenericDict();
  // nn.DataParallel saves every name with a "module." prefix (the authors' checkpoints): read them without it.
  bool all_prefixed = dict.size() > 0;
  for (const auto& kv : dict)
    all_prefixed = all_prefixed && kv.key().isString() && kv.key().toStringRef().rfind("module.", 0) == 0;
  const std::string prefix = all_prefixed ? "module." : "";
  torch::NoGradGuard ng;
  for (auto& [name, t] : named_state(module)) {
    const std::string key = prefix + name;
    if (!dict.contains(key)) throw DataError("'" + path + "' has no entry '" + key + "' for this model");
    const c10::IValue& entry = dict.at(key);
    if (!entry.isTensor()) throw DataError("'" + path + "': entry '" + key + "' is not a tensor");
    auto v = entry.toTensor();
    // Same values in the same order (a weight_norm(nn.Linear) nin [out, in] for a 1x1 convolution's
    // [out, in, 1, 1]); any other difference is a different model.
    if (v.sizes() != t.sizes() && core_sizes(v.sizes()) == core_sizes(t.sizes())) v = v.reshape(t.sizes());
    if (v.sizes() != t.sizes())
      throw DataError("'" + path + "': entry '" + key + "' has shape " + c10::str(v.sizes()) + ", the model expects " +
                      c10::str(t.sizes()));
    t.copy_(v);
  }
}

}  // namespace scorelab
