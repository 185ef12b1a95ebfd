#include "models/pixelcnnpp_cache.h"

#include <algorithm>
#include <array>

#include <torch/torch.h>

#include "models/pixelcnnpp.h"

namespace scorelab {

namespace {

enum class Op { kInput, kUInit, kULInit, kGated, kDownsize, kUpsizeU, kUpsizeUL, kHead };

// Zero-padded buffer, position-major so that one position's values for the whole batch are contiguous:
// [rows, W + 2, N, C]; column c sits at c + 1 (see Node::slot for the rows).
at::Tensor padded_buffer(int64_t n, int64_t c, int64_t rows, int64_t w, const at::TensorOptions& options) {
  return at::zeros({rows, w + 2, n, c}, options);
}

// Physical row `prow`, columns [c0, c0 + w) of a buffer as one row per (position, image): [w * N, C] (a view).
at::Tensor read(const at::Tensor& buf, int64_t prow, int64_t c0, int64_t w) {
  return buf.select(0, prow).narrow(0, c0 + 1, w).reshape({w * buf.size(2), buf.size(3)});
}

void write(at::Tensor& buf, int64_t prow, int64_t c0, const at::Tensor& rows) {
  const int64_t n = buf.size(2), c = buf.size(3), w = rows.size(0) / n;
  buf.select(0, prow).narrow(0, c0 + 1, w).copy_(rows.reshape({w, n, c}));
}

// The kh x kw windows of w outputs along one row, whose first window starts at physical (prow, pcol), outputs
// `stride` columns apart: [w * N, kh * kw * C], flattened (kh, kw, C) like `matrix` below.
at::Tensor window(const at::Tensor& buf, int64_t prow, int64_t kh, int64_t pcol, int64_t kw, int64_t w,
                  int64_t stride = 1) {
  const int64_t n = buf.size(2), k = buf.size(3) * kh * kw;
  auto patch = buf.narrow(0, prow, kh).narrow(1, pcol, (w - 1) * stride + kw);  // [kh, cols, N, C]
  if (w == 1) return patch.permute({2, 0, 1, 3}).reshape({n, k});
  return patch.unfold(1, kw, stride).permute({1, 2, 0, 4, 3}).reshape({w * n, k});  // [w, N, kh, kw, C]
}

at::Tensor concat_elu_rows(const at::Tensor& t) { return at::elu(at::cat({t, -t}, 1)); }

// A convolution's effective weight as a matrix for windows [M, kh * kw * C] @ W: [kh * kw * C, out].
at::Tensor matrix(const WNConv2dImpl& conv) {
  auto w = conv.weight().detach();
  return w.permute({0, 2, 3, 1}).reshape({w.size(0), -1}).t().contiguous();
}

at::Tensor cat_or_one(std::vector<at::Tensor>& parts) { return parts.size() == 1 ? parts[0] : at::cat(parts, 1); }

}  // namespace

struct PixelCNNppCache::Node {
  Op op = Op::kInput;
  bool rows = false;       // u-stream node: computed a whole row at a time
  bool down_shift = true;  // Shift::kDown (2x3 windows) or Shift::kDownRight (2x2)
  int level = 0;           // resolution: grid >> level
  int64_t h = 0, w = 0, channels = 0;
  int64_t done = 0;  // positions [0, done) are final (kInput: pixels known)
  // Whole-image buffers (the input, the head) hold row q at q + 1 (row 0 is the padding). The others are
  // rings of two rows, the previous (or the zero padding) and the current one, `cur`: every reader of a node
  // needs only those (windows of 2 rows ending at the row being computed, transposed convs the lower
  // resolution's current row), because the head advances row by row and each level keeps pace.
  bool ring = true;
  int64_t cur = -1;
  int64_t slot(int64_t q, int64_t count = 1) const {
    if (!ring) return q + 1;
    TORCH_CHECK(q >= cur - 1 && q + count - 1 <= cur, "PixelCNN++ cache: internal error (rows ", q, "..",
                q + count - 1, " read while holding ", cur - 1, "..", cur, ")");
    return q - cur + 1;
  }
  int in = -1;
  std::vector<int> skips;  // same-resolution inputs read at the output position (concat_elu'd)
  at::Tensor v, e, hid;    // output, concat_elu(output), gated resnets' concat_elu(c1); padded
  at::Tensor w1, b1, w2, b2;  // matrices [K, out] and biases of the node's affine maps
  std::array<at::Tensor, 2> wa;  // kUpsizeUL: per output-row parity, [F_in, 2 * F_out] (column parity major)
};

PixelCNNppCache::PixelCNNppCache(PixelCNNppImpl& model, int64_t n, int64_t height, int64_t width,
                                 const at::Tensor& cond)
    : n_(n), height_(height), width_(width), channels_(model.config().input_channels) {
  torch::NoGradGuard no_grad;
  const auto& cfg = model.config();
  TORCH_CHECK(!model.is_training(), "PixelCNN++ cache: the model must be in eval mode (dropout off); call eval()");
  TORCH_CHECK(n > 0 && height > 0 && width > 0, "PixelCNN++ cache: bad sizes n ", n, ", ", height, "x", width);
  const auto options = model.nin_out_->lin_a_->weight_v.options();
  std::vector<at::Tensor> cond_maps;
  grid_height_ = height;
  offset_ = 0;
  switch (cfg.conditioning) {
    case PixelCNNConditioning::kNone:
      TORCH_CHECK(!cond.defined(), "PixelCNN++ cache: an unconditional model takes no condition");
      break;
    case PixelCNNConditioning::kStacked:
      TORCH_CHECK(cond.defined() && cond.dim() == 4 && cond.size(0) == n && cond.size(1) == channels_ &&
                      cond.size(2) == height && cond.size(3) == width,
                  "PixelCNN++ cache (stacked): the condition must be [", n, ", ", channels_, ", ", height, ", ",
                  width, "]");
      grid_height_ = 2 * height;
      offset_ = height * width;
      break;
    case PixelCNNConditioning::kStream:
      TORCH_CHECK(cond.defined() && cond.dim() == 4 && cond.size(0) == n && cond.size(2) == height &&
                      cond.size(3) == width,
                  "PixelCNN++ cache (stream): the condition must be [", n, ", C', ", height, ", ", width, "]");
      cond_maps = model.encode_condition(cond.to(options));
      break;
  }
  TORCH_CHECK(grid_height_ % 4 == 0 && width % 4 == 0, "PixelCNN++ cache: the network's input height and width "
              "must be multiples of 4, got ", grid_height_, "x", width);
  for (const auto& map : cond_maps) {
    auto p = padded_buffer(n, map.size(1), map.size(2) + 1, map.size(3), options);
    p.narrow(0, 1, map.size(2)).narrow(1, 1, map.size(3)).copy_(map.permute({2, 3, 0, 1}));
    cond_maps_.push_back(p);
  }

  Node x;
  x.op = Op::kInput;
  x.h = grid_height_;
  x.w = width;
  x.channels = channels_ + 1;  // + the ones channel (zero in the padding, as F::pad gives)
  x.ring = false;
  x.v = padded_buffer(n, x.channels, x.h + 1, x.w, options);
  x.v.narrow(3, channels_, 1).narrow(0, 1, x.h).narrow(1, 1, x.w).fill_(1.0);
  if (cfg.conditioning == PixelCNNConditioning::kStacked) {
    x.v.narrow(3, 0, channels_).narrow(0, 1, height).narrow(1, 1, width).copy_(cond.permute({2, 3, 0, 1}));
    x.done = offset_;
  }
  input_ = add_node(std::move(x));
  build(model, cond_maps);
}

PixelCNNppCache::~PixelCNNppCache() = default;

int PixelCNNppCache::add_node(Node node) {
  nodes_.push_back(std::move(node));
  return static_cast<int>(nodes_.size()) - 1;
}

void PixelCNNppCache::build(PixelCNNppImpl& m, const std::vector<at::Tensor>& cond_maps) {
  const auto& cfg = m.config();
  const int64_t nr = cfg.nr_resnet, f = cfg.nr_filters;
  const auto options = m.nin_out_->lin_a_->weight_v.options();
  const bool stream = !cond_maps.empty();
  auto make = [&](Op op, int level, int in, bool rows, bool down_shift, int64_t channels) {
    Node node;
    node.op = op;
    node.level = level;
    node.h = grid_height_ >> level;
    node.w = width_ >> level;
    node.in = in;
    node.rows = rows;
    node.down_shift = down_shift;
    node.channels = channels;
    node.ring = op != Op::kHead;
    const int64_t held = node.ring ? 2 : node.h + 1;
    node.v = padded_buffer(n_, channels, held, node.w, options);
    if (op != Op::kHead) node.e = padded_buffer(n_, 2 * channels, held, node.w, options);
    return node;
  };
  auto gated = [&](GatedResnetImpl& g, int level, int in, bool ul, std::vector<int> skips, bool reorder_skip) {
    Node node = make(Op::kGated, level, in, !ul, !ul, f);
    node.skips = std::move(skips);
    node.hid = padded_buffer(n_, 2 * f, 2, node.w, options);
    std::vector<at::Tensor> w1{matrix(*g.conv_input_->conv_)};
    node.b1 = g.conv_input_->conv_->bias.detach();
    if (g.nin_skip_) {
      auto ws = g.nin_skip_->lin_a_->weight().detach().reshape({f, -1});
      if (reorder_skip) {
        // concat_elu(cat(u, ul)) is [elu(u), elu(ul), elu(-u), elu(-ul)]; the cache holds concat_elu of each.
        auto q = ws.chunk(4, 1);
        ws = at::cat({q[0], q[2], q[1], q[3]}, 1);
      }
      w1.push_back(ws.t().contiguous());
      node.b1 = node.b1 + g.nin_skip_->lin_a_->bias.detach();
    }
    node.w1 = at::cat(w1, 0).contiguous();
    std::vector<at::Tensor> w2{matrix(*g.conv_out_->conv_)};
    node.b2 = g.conv_out_->conv_->bias.detach();
    if (g.nin_cond_) {
      TORCH_CHECK(stream, "PixelCNN++ cache: conditioning maps are missing");
      w2.push_back(matrix(*g.nin_cond_->lin_a_));
      node.b2 = node.b2 + g.nin_cond_->lin_a_->bias.detach();
    }
    node.w2 = at::cat(w2, 0).contiguous();
    return add_node(std::move(node));
  };
  auto conv_node = [&](Op op, int level, int in, bool ul, const WNConv2dImpl& conv) {
    Node node = make(op, level, in, !ul, !ul, f);
    node.w1 = matrix(conv);
    node.b1 = conv.bias.detach();
    return add_node(std::move(node));
  };

  // Up pass (trunk order).
  std::vector<int> u_list{conv_node(Op::kUInit, 0, input_, false, *m.u_init_->conv_)};
  Node ul_init = make(Op::kULInit, 0, input_, false, false, f);
  ul_init.w1 = matrix(*m.ul_init_down_->conv_);
  ul_init.b1 = m.ul_init_down_->conv_->bias.detach();
  ul_init.w2 = matrix(*m.ul_init_right_->conv_);
  ul_init.b2 = m.ul_init_right_->conv_->bias.detach();
  std::vector<int> ul_list{add_node(std::move(ul_init))};
  for (int s = 0; s < 3; ++s) {
    for (int64_t i = 0; i < nr; ++i) {
      const int u = gated(m.block(m.up_layers_, s, false, i), s, u_list.back(), false, {}, false);
      const int ul = gated(m.block(m.up_layers_, s, true, i), s, ul_list.back(), true, {u}, false);
      u_list.push_back(u);
      ul_list.push_back(ul);
    }
    if (s != 2) {
      u_list.push_back(conv_node(Op::kDownsize, s + 1, u_list.back(), false,
                                 *m.downsize_u_stream_[s]->as<ShiftedConv2dImpl>()->conv_));
      ul_list.push_back(conv_node(Op::kDownsize, s + 1, ul_list.back(), true,
                                  *m.downsize_ul_stream_[s]->as<ShiftedConv2dImpl>()->conv_));
    }
  }

  // Down pass.
  auto pop = [](std::vector<int>& list) {
    const int id = list.back();
    list.pop_back();
    return id;
  };
  int u = pop(u_list), ul = pop(ul_list);
  const std::array<int64_t, 3> extra = {0, 1, 1};
  for (int s = 0; s < 3; ++s) {
    const int level = 2 - s;
    for (int64_t i = 0; i < nr + extra[static_cast<size_t>(s)]; ++i) {
      u = gated(m.block(m.down_layers_, s, false, i), level, u, false, {pop(u_list)}, false);
      ul = gated(m.block(m.down_layers_, s, true, i), level, ul, true, {u, pop(ul_list)}, true);
    }
    if (s != 2) {
      auto& up_u = *m.upsize_u_stream_[s]->as<ShiftedDeconv2dImpl>()->deconv_;
      Node nu = make(Op::kUpsizeU, level - 1, u, true, true, f);
      nu.w1 = up_u.weight().detach();  // [in, out, 2, 3], used by conv_transpose2d
      nu.b1 = up_u.bias.detach();
      u = add_node(std::move(nu));
      auto& up_ul = *m.upsize_ul_stream_[s]->as<ShiftedDeconv2dImpl>()->deconv_;
      Node nul = make(Op::kUpsizeUL, level - 1, ul, false, false, f);
      auto wd = up_ul.weight().detach();  // [in, out, 2, 2]
      for (int64_t a = 0; a < 2; ++a)
        nul.wa[static_cast<size_t>(a)] = wd.select(2, a).permute({0, 2, 1}).reshape({f, 2 * f}).contiguous();
      nul.b1 = at::cat({up_ul.bias.detach(), up_ul.bias.detach()});
      ul = add_node(std::move(nul));
    }
  }
  TORCH_CHECK(u_list.empty() && ul_list.empty(), "PixelCNN++ cache: unbalanced skip connections");
  Node head = make(Op::kHead, 0, ul, false, false, cfg.output_channels());
  head.w1 = matrix(*m.nin_out_->lin_a_);
  head.b1 = m.nin_out_->lin_a_->bias.detach();
  head_ = add_node(std::move(head));
}

void PixelCNNppCache::advance_head(int64_t target) {
  // Row by row, so that every level's two-row rings hold what their readers need.
  for (int64_t done = nodes_[static_cast<size_t>(head_)].done; done < target;) {
    done = std::min(target, (done / width_ + 1) * width_);
    advance(head_, done);
  }
}

int64_t PixelCNNppCache::known() const { return nodes_[static_cast<size_t>(input_)].done - offset_; }

int64_t PixelCNNppCache::input_need(const Node& node, const Node& input, int64_t last) const {
  const int64_t r = last / node.w, c = last % node.w, win = input.w;
  switch (node.op) {
    case Op::kUInit: return r * win;                             // x rows <= r - 1
    case Op::kULInit: return r * win + c;                         // x strictly before (r, c)
    case Op::kDownsize: return 2 * r * win + 2 * c + 1;           // up to (2r, 2c)
    case Op::kUpsizeU:
    case Op::kUpsizeUL: return (r / 2) * win + c / 2 + 1;         // up to (r/2, c/2)
    case Op::kGated:
    case Op::kHead:
    case Op::kInput: return last + 1;
  }
  return last + 1;
}

void PixelCNNppCache::advance(int id, int64_t target) {
  Node& node = nodes_[static_cast<size_t>(id)];
  if (node.op == Op::kInput) {
    TORCH_CHECK(target <= node.done, "PixelCNN++ cache: position ", target - 1 - offset_,
                " is needed but only ", node.done - offset_, " pixels are set");
    return;
  }
  TORCH_CHECK(target <= node.h * node.w, "PixelCNN++ cache: internal error (target past the end)");
  if (node.rows) target = (target + node.w - 1) / node.w * node.w;
  if (target <= node.done) return;
  const int64_t last = target - 1;
  if (node.in >= 0) {
    // Within a row the needs grow with the column; across rows not always (a transposed conv's (r, c) reads
    // (r / 2, c / 2): the end of row r - 1 may need more than (r, 0)), so the end of the previous row counts too.
    const Node& input = nodes_[static_cast<size_t>(node.in)];
    int64_t need = input_need(node, input, last);
    const int64_t prev_row_end = last / node.w * node.w - 1;
    if (prev_row_end >= node.done) need = std::max(need, input_need(node, input, prev_row_end));
    advance(node.in, need);
  }
  for (int s : node.skips) advance(s, last + 1);
  int64_t pos = node.done;
  while (pos < target) {
    const int64_t r = pos / node.w, c0 = pos % node.w;
    const int64_t c1 = r == last / node.w ? last % node.w + 1 : node.w;
    compute_segment(node, r, c0, c1);
    pos = r * node.w + c1;
  }
  node.done = target;
}

void PixelCNNppCache::compute_segment(Node& node, int64_t r, int64_t c0, int64_t c1) {
  const int64_t w = c1 - c0, n = n_;
  const Node& in = nodes_[static_cast<size_t>(node.in)];
  if (node.ring && r != node.cur) {
    TORCH_CHECK(r == node.cur + 1, "PixelCNN++ cache: internal error (row ", r, " after ", node.cur, ")");
    if (node.cur >= 0) {
      for (at::Tensor* buf : {&node.v, &node.e, &node.hid})
        if (buf->defined()) buf->select(0, 0).copy_(buf->select(0, 1));
    }
    node.cur = r;
  }
  at::Tensor out;
  switch (node.op) {
    case Op::kInput: return;
    case Op::kUInit:
      // down_shift(conv2x3(pad(x))): rows r - 2 .. r - 1; row 0 is the shift's zero row (no bias).
      out = r == 0 ? at::zeros({w * n, node.channels}, node.v.options())
                   : at::addmm(node.b1, window(in.v, in.slot(r - 2, 2), 2, c0, 3, w), node.w1);
      break;
    case Op::kULInit: {
      // down_shift(conv1x3(row r - 1)) + right_shift(conv2x1(rows r - 1 .. r, column c - 1)).
      out = at::addmm(node.b2, window(in.v, in.slot(r - 1, 2), 2, c0, 1, w), node.w2);
      if (c0 == 0) out.view({w, n, node.channels}).select(0, 0).zero_();
      if (r > 0) out = out + at::addmm(node.b1, window(in.v, in.slot(r - 1), 1, c0, 3, w), node.w1);
      break;
    }
    case Op::kGated: {
      // c1 = conv(concat_elu(x)) + nin(concat_elu(skip)); h = concat_elu(c1);
      // [a, b] = conv(h) + nin(cond); out = x + a * sigmoid(b).
      const int64_t kw = node.down_shift ? 3 : 2, f = node.channels;
      std::vector<at::Tensor> parts{window(in.e, in.slot(r - 1, 2), 2, c0, kw, w)};
      for (int s : node.skips) {
        const Node& skip = nodes_[static_cast<size_t>(s)];
        parts.push_back(read(skip.e, skip.slot(r), c0, w));
      }
      write(node.hid, node.slot(r), c0, concat_elu_rows(at::addmm(node.b1, cat_or_one(parts), node.w1)));
      std::vector<at::Tensor> parts2{window(node.hid, node.slot(r - 1, 2), 2, c0, kw, w)};
      if (!cond_maps_.empty()) parts2.push_back(read(cond_maps_[static_cast<size_t>(node.level)], r + 1, c0, w));
      auto ab = at::addmm(node.b2, cat_or_one(parts2), node.w2);
      out = read(in.v, in.slot(r), c0, w) + ab.narrow(1, 0, f) * at::sigmoid(ab.narrow(1, f, f));
      break;
    }
    case Op::kDownsize:
      // Stride-2 shifted conv: output (r, c) reads input rows 2r - 1 .. 2r, columns from 2c - 1.
      out = at::addmm(node.b1, window(in.v, in.slot(2 * r - 1, 2), 2, 2 * c0, node.down_shift ? 3 : 2, w, 2), node.w1);
      break;
    case Op::kUpsizeU: {
      TORCH_CHECK(c0 == 0 && c1 == node.w, "PixelCNN++ cache: internal error (partial u row)");
      // Output row r of the stride-2 transposed conv sees only input row r / 2 (kernel height 2).
      auto low = in.v.select(0, in.slot(r / 2)).narrow(0, 1, in.w).permute({1, 2, 0}).unsqueeze(2);  // [N, F, 1, W/2]
      auto y = at::conv_transpose2d(low, node.w1, node.b1, {2, 2}, {0, 0}, {1, 1});  // [N, F, 3, W + 2]
      out = y.select(2, r % 2).narrow(2, 1, node.w).permute({2, 0, 1}).reshape({w * n, node.channels});
      break;
    }
    case Op::kUpsizeUL: {
      // 2x2 stride-2 transposed conv: output (r, c) = b + W[:, :, r % 2, c % 2]^T x(r / 2, c / 2).
      const int64_t j0 = c0 / 2, nj = (c1 - 1) / 2 + 1 - j0;
      auto y = at::addmm(node.b1, read(in.v, in.slot(r / 2), j0, nj), node.wa[static_cast<size_t>(r % 2)]);
      // [nj, N, 2, F] -> columns 2 j + b: [2 nj, N, F].
      out = y.view({nj, n, 2, node.channels}).permute({0, 2, 1, 3}).reshape({2 * nj, n, node.channels});
      out = out.narrow(0, c0 - 2 * j0, w).reshape({w * n, node.channels});
      break;
    }
    case Op::kHead: {
      // nin(elu(ul)): elu(ul) is the first half of concat_elu(ul).
      auto x = read(in.e, in.slot(r), c0, w).narrow(1, 0, in.channels);
      write(node.v, node.slot(r), c0, at::addmm(node.b1, x, node.w1));
      return;
    }
  }
  write(node.v, node.slot(r), c0, out);
  write(node.e, node.slot(r), c0, concat_elu_rows(out));
}

at::Tensor PixelCNNppCache::params_at(int64_t pos) {
  TORCH_CHECK(pos >= 0 && pos < positions(), "PixelCNN++ cache: position ", pos, " outside [0, ", positions(), ")");
  TORCH_CHECK(pos <= known(), "PixelCNN++ cache: parameters at ", pos, " need pixels [0, ", pos, "); only ",
              known(), " are set");
  torch::NoGradGuard no_grad;
  const int64_t g = offset_ + pos;
  advance_head(g + 1);
  const Node& head = nodes_[static_cast<size_t>(head_)];
  return read(head.v, head.slot(g / width_), g % width_, 1).clone();
}

void PixelCNNppCache::set_pixel(int64_t pos, const at::Tensor& value) {
  TORCH_CHECK(pos == known() && pos < positions(), "PixelCNN++ cache: pixels are set in raster order; expected ",
              known(), ", got ", pos);
  TORCH_CHECK(value.dim() == 2 && value.size(0) == n_ && value.size(1) == channels_,
              "PixelCNN++ cache: a pixel value must be [", n_, ", ", channels_, "], got ", value.sizes());
  torch::NoGradGuard no_grad;
  Node& x = nodes_[static_cast<size_t>(input_)];
  const int64_t g = offset_ + pos;
  x.v.select(0, g / width_ + 1).select(0, g % width_ + 1).narrow(1, 0, channels_).copy_(value);
  x.done = g + 1;
}

at::Tensor PixelCNNppCache::params_all(const at::Tensor& x) {
  TORCH_CHECK(known() == 0, "PixelCNN++ cache: params_all needs a fresh cache");
  TORCH_CHECK(x.dim() == 4 && x.size(0) == n_ && x.size(1) == channels_ && x.size(2) == height_ &&
                  x.size(3) == width_,
              "PixelCNN++ cache: x must be [", n_, ", ", channels_, ", ", height_, ", ", width_, "], got ", x.sizes());
  torch::NoGradGuard no_grad;
  Node& in = nodes_[static_cast<size_t>(input_)];
  const int64_t top = grid_height_ - height_;
  in.v.narrow(3, 0, channels_).narrow(0, top + 1, height_).narrow(1, 1, width_).copy_(x.permute({2, 3, 0, 1}));
  in.done = grid_height_ * width_;
  advance_head(grid_height_ * width_);
  return nodes_[static_cast<size_t>(head_)].v.narrow(0, top + 1, height_).narrow(1, 1, width_).permute({2, 3, 0, 1})
      .contiguous();
}

}  // namespace scorelab
