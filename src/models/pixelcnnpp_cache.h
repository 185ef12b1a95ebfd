// Incremental ("fast") evaluation of PixelCNN++ for raster-order sampling, in the spirit of Ramachandran et
// al. 2017 (Fast Generation for Convolutional Autoregressive Models): every layer's activations are kept,
// and setting one pixel computes only the positions whose inputs are now complete.
//
// The network is a graph of per-layer nodes (the trunk of models/pixelcnnpp.cpp, in the same order). Each
// node keeps its output v, concat_elu(v) and, for gated resnets, the hidden concat_elu(c1), in zero-padded
// position-major buffers [2 rows, W_l + 2, N, C]: the previous row (zeros above row 0) and the current one,
// one column of zeros either side (exactly the padding of the shifted convolutions, so a 2x3 or 2x2 window
// at output (r, c) starts at padded (r - 1, c)); one position of the whole batch is contiguous, so a window
// is a few contiguous reads and one matmul.
// Nodes advance a "done" prefix in raster order:
//   u-stream nodes (rows above only) are computed a whole row at a time, when that row is first needed;
//   ul-stream nodes (rows above and pixels to the left) position by position (a row segment for prefills).
// The head advances row by row, so every level keeps pace and two rows per layer suffice. A node's inputs
// are first advanced to the prefix its positions need:
//   u_init row r: x rows <= r - 1;   ul_init (r, c): x before (r, c);   gated (r, c): input and skips up to
//   (r, c);   stride-2 down (i, j): input up to (2i, 2j);   transposed up (p, q): input up to (p/2, q/2);
//   head (r, c): the last ul up to (r, c).
// So a new pixel costs, per layer, one position of the ul stream at full resolution, a quarter (a sixteenth)
// of one at the lower resolutions, and one row of the u stream per image row. kStacked runs the same graph on
// the 2H x W stacked input with the top H rows (x~) known from the start (prefilled by row segments);
// kStream computes the x~ encoder once.
//
// Results equal PixelCNNppImpl::forward up to float reassociation (matrix products on gathered windows
// instead of whole-image convolutions): max abs difference ~1e-7 on the head parameters (tests allow 1e-5).
// Memory: two rows per layer, plus the input and the head parameters of the whole image.
// Eval mode only (no dropout; the constructor checks); runs under its own NoGradGuard. Always float32, also under
// --precision bf16: its matrix products are too small for bf16 to pay for the conversions (16 MNIST images: 3.9 s
// in bf16 vs 3.0 s in fp32, scripts/bench ar-sample-cached, reports/performance.md).
#pragma once
#include <cstdint>
#include <vector>

#include <ATen/Tensor.h>

namespace scorelab {

class PixelCNNppImpl;

class PixelCNNppCache {
 public:
  // n images of height x width (the sampled image: for kStacked, x's size, not the stacked 2H x W).
  // cond: x~ [n, C', height, width] for kStacked / kStream models, undefined for kNone. The model must be in
  // eval mode and outlive the cache; its weights are read once here (weight norm applied).
  PixelCNNppCache(PixelCNNppImpl& model, int64_t n, int64_t height, int64_t width, const at::Tensor& cond = {});
  ~PixelCNNppCache();
  PixelCNNppCache(const PixelCNNppCache&) = delete;
  PixelCNNppCache& operator=(const PixelCNNppCache&) = delete;

  int64_t positions() const { return height_ * width_; }
  // Pixels set so far: positions [0, known()) in raster order.
  int64_t known() const;

  // Head parameters at raster position pos [N, P] (P = 3M gray, 10M RGB); needs pos <= known(): they
  // depend only on earlier pixels. Computes whatever is still missing.
  at::Tensor params_at(int64_t pos);
  // Sets pixel pos = known() (all channels) to value [N, C].
  void set_pixel(int64_t pos, const at::Tensor& value);
  // Sets every remaining pixel from x [N, C, H, W] (pixels already set must agree; they are not rewritten)
  // and returns the parameters of every position [N, P, H, W], computed by row segments: the forward pass.
  at::Tensor params_all(const at::Tensor& x);

 private:
  struct Node;
  void build(PixelCNNppImpl& model, const std::vector<at::Tensor>& cond_maps);
  int add_node(Node node);
  void advance(int id, int64_t target);
  void advance_head(int64_t target);
  void compute_segment(Node& node, int64_t r, int64_t c0, int64_t c1);
  int64_t input_need(const Node& node, const Node& input, int64_t last) const;

  int64_t n_, height_, width_, channels_;
  int64_t grid_height_;  // height_, or 2 * height_ for kStacked
  int64_t offset_;       // grid position of the sampled image's pixel 0 (height_ * width_ for kStacked)
  std::vector<Node> nodes_;
  std::vector<at::Tensor> cond_maps_;  // kStream: padded encoder maps per resolution
  int input_ = 0, head_ = 0;
};

}  // namespace scorelab
