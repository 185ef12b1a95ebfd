"""PixelCNN++ with the module names and parameter shapes of the authors' PyTorch code (pclucas14/pixel-cnn-pp,
which Meng et al. 2021 build on): nin = weight_norm(nn.Linear), shifted convolutions = weight_norm(nn.Conv2d),
deconvolutions = weight_norm(nn.ConvTranspose2d) (dim 0: per *input* channel), up_layers / down_layers with
u_stream / ul_stream gated resnets, ul_init as a 2-entry ModuleList, nin_out. Written here from the published
architecture (REFERENCE.md section 2), not copied, to check that scorelab's model.pt loads into such a module with
load_state_dict(strict=True) and gives the same output, and that the authors' checkpoints load into scorelab.

    /usr/bin/python3 bench/authors_pixelcnnpp.py check DIR        # DIR/model.pt + DIR/io.pt from tests/authors_probe
    /usr/bin/python3 bench/authors_pixelcnnpp.py write DIR        # DIR/authors.pt (DataParallel names) + io_authors.pt

Both read DIR/config.pt's sizes (written by the probe's `export`): channels, nr_resnet, nr_filters, nr_mix, stacked.
"""
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.nn.utils import weight_norm as wn

from reference_models import concat_elu, down_shift, right_shift  # the same shifts and nonlinearity


class nin(nn.Module):  # noqa: N801 (the authors' class name)
    def __init__(self, dim_in, dim_out):
        super().__init__()
        self.lin_a = wn(nn.Linear(dim_in, dim_out))

    def forward(self, x):
        return self.lin_a(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)


class down_shifted_conv2d(nn.Module):  # noqa: N801
    def __init__(self, cin, cout, filter_size=(2, 3), stride=(1, 1), shift_output_down=False):
        super().__init__()
        self.conv = wn(nn.Conv2d(cin, cout, filter_size, stride))
        self.pad = (int((filter_size[1] - 1) / 2), int((filter_size[1] - 1) / 2), filter_size[0] - 1, 0)
        self.shift = shift_output_down

    def forward(self, x):
        x = self.conv(F.pad(x, self.pad))
        return down_shift(x) if self.shift else x


class down_right_shifted_conv2d(nn.Module):  # noqa: N801
    def __init__(self, cin, cout, filter_size=(2, 2), stride=(1, 1), shift_output_right=False):
        super().__init__()
        self.conv = wn(nn.Conv2d(cin, cout, filter_size, stride))
        self.pad = (filter_size[1] - 1, 0, filter_size[0] - 1, 0)
        self.shift = shift_output_right

    def forward(self, x):
        x = self.conv(F.pad(x, self.pad))
        return right_shift(x) if self.shift else x


class _shifted_deconv2d(nn.Module):  # noqa: N801
    """weight_norm(ConvTranspose2d) (dim 0: per input channel), cropped to the causal window."""

    def __init__(self, cin, cout, filter_size, stride):
        super().__init__()
        self.deconv = wn(nn.ConvTranspose2d(cin, cout, filter_size, stride, output_padding=1))
        self.fs = filter_size

    def crop_cols(self, w):
        raise NotImplementedError

    def forward(self, x):
        x = self.deconv(x)
        left, right = self.crop_cols(x.shape[3])
        return x[:, :, :x.shape[2] - self.fs[0] + 1, left:right]


class down_shifted_deconv2d(_shifted_deconv2d):  # noqa: N801
    def __init__(self, cin, cout, filter_size=(2, 3), stride=(2, 2)):
        super().__init__(cin, cout, filter_size, stride)

    def crop_cols(self, w):
        k = int((self.fs[1] - 1) / 2)
        return k, w - k


class down_right_shifted_deconv2d(_shifted_deconv2d):  # noqa: N801
    def __init__(self, cin, cout, filter_size=(2, 2), stride=(2, 2)):
        super().__init__(cin, cout, filter_size, stride)

    def crop_cols(self, w):
        return 0, w - self.fs[1] + 1


class gated_resnet(nn.Module):  # noqa: N801
    def __init__(self, f, conv_op, skip_connection=0):
        super().__init__()
        self.conv_input = conv_op(2 * f, f)
        if skip_connection != 0:
            self.nin_skip = nin(2 * skip_connection * f, f)
        self.dropout = nn.Dropout2d(0.5)
        self.conv_out = conv_op(2 * f, 2 * f)

    def forward(self, og_x, a=None):
        x = self.conv_input(concat_elu(og_x))
        if a is not None:
            x = x + self.nin_skip(concat_elu(a))
        x = self.dropout(concat_elu(x))
        a, b = torch.chunk(self.conv_out(x), 2, dim=1)
        return og_x + a * torch.sigmoid(b)


class PixelCNNLayer(nn.Module):
    def __init__(self, nr_resnet, f, down):
        super().__init__()
        self.u_stream = nn.ModuleList([gated_resnet(f, down_shifted_conv2d, 1 if down else 0) for _ in range(nr_resnet)])
        self.ul_stream = nn.ModuleList(
            [gated_resnet(f, down_right_shifted_conv2d, 2 if down else 1) for _ in range(nr_resnet)])


class PixelCNN(nn.Module):
    def __init__(self, nr_resnet=5, nr_filters=80, nr_logistic_mix=10, input_channels=3):
        super().__init__()
        f = nr_filters
        self.nr_resnet = nr_resnet
        self.down_layers = nn.ModuleList([PixelCNNLayer(n, f, True) for n in [nr_resnet, nr_resnet + 1, nr_resnet + 1]])
        self.up_layers = nn.ModuleList([PixelCNNLayer(nr_resnet, f, False) for _ in range(3)])
        self.downsize_u_stream = nn.ModuleList([down_shifted_conv2d(f, f, stride=(2, 2)) for _ in range(2)])
        self.downsize_ul_stream = nn.ModuleList([down_right_shifted_conv2d(f, f, stride=(2, 2)) for _ in range(2)])
        self.upsize_u_stream = nn.ModuleList([down_shifted_deconv2d(f, f, stride=(2, 2)) for _ in range(2)])
        self.upsize_ul_stream = nn.ModuleList([down_right_shifted_deconv2d(f, f, stride=(2, 2)) for _ in range(2)])
        self.u_init = down_shifted_conv2d(input_channels + 1, f, filter_size=(2, 3), shift_output_down=True)
        self.ul_init = nn.ModuleList([
            down_shifted_conv2d(input_channels + 1, f, filter_size=(1, 3), shift_output_down=True),
            down_right_shifted_conv2d(input_channels + 1, f, filter_size=(2, 1), shift_output_right=True)])
        self.nin_out = nin(f, (3 if input_channels == 1 else 10) * nr_logistic_mix)

    def forward(self, x):
        x = torch.cat([x, torch.ones_like(x[:, :1])], 1)
        u_list, ul_list = [self.u_init(x)], [self.ul_init[0](x) + self.ul_init[1](x)]
        for i in range(3):
            for k in range(self.nr_resnet):
                u = self.up_layers[i].u_stream[k](u_list[-1])
                ul = self.up_layers[i].ul_stream[k](ul_list[-1], a=u)
                u_list.append(u)
                ul_list.append(ul)
            if i != 2:
                u_list.append(self.downsize_u_stream[i](u_list[-1]))
                ul_list.append(self.downsize_ul_stream[i](ul_list[-1]))
        u, ul = u_list.pop(), ul_list.pop()
        for i in range(3):
            layer = self.down_layers[i]
            for k in range(len(layer.u_stream)):
                u = layer.u_stream[k](u, a=u_list.pop())
                ul = layer.ul_stream[k](ul, a=torch.cat((u, ul_list.pop()), 1))
            if i != 2:
                u = self.upsize_u_stream[i](u)
                ul = self.upsize_ul_stream[i](ul)
        assert not u_list and not ul_list
        return self.nin_out(F.elu(ul))


def build(cfg):
    return PixelCNN(int(cfg["nr_resnet"]), int(cfg["nr_filters"]), int(cfg["nr_mix"]), int(cfg["channels"])).eval()


def run(model, x, cond, stacked):
    with torch.no_grad():
        if not stacked:
            return model(x)
        return model(torch.cat([cond, x], 2))[:, :, x.shape[2]:]


def main():
    mode, d = sys.argv[1], sys.argv[2]
    cfg = {k: v.item() for k, v in torch.load(d + "/config.pt").items()}
    stacked = bool(cfg["stacked"])
    model = build(cfg)
    if mode == "check":
        state = torch.load(d + "/model.pt")
        model.load_state_dict(state, strict=True)  # raises on a missing, unexpected or mis-shaped entry
        io = torch.load(d + "/io.pt")
        out = run(model, io["x"], io.get("cond"), stacked)
        err = (out - io["out"]).abs().max().item()
        print(f"strict load ok: {len(state)} tensors; max_error {err:.3g}")
        sys.exit(0 if err < 1e-4 else 1)
    if mode == "write":
        torch.manual_seed(7)
        with torch.no_grad():
            for name, p in model.named_parameters():
                if name.endswith("weight_g"):
                    p.mul_(torch.rand_like(p) + 0.5)  # g != ||v||: the norm axis matters
                if name.endswith("bias"):
                    p.normal_(0.0, 0.1)
        n, c, s = 2, int(cfg["channels"]), int(cfg["size"])
        x = torch.rand(n, c, s, s) * 2 - 1
        cond = torch.rand(n, c, s, s) * 2 - 1
        out = run(model, x, cond, stacked)
        # What the authors' runners save and load: a list [state_dict, optimizer state], DataParallel names.
        torch.save([{"module." + k: v for k, v in model.state_dict().items()}, {}], d + "/authors.pt")
        torch.save({"x": x, "cond": cond, "out": out}, d + "/io_authors.pt")
        print("wrote", d + "/authors.pt")
        return
    raise SystemExit("usage: authors_pixelcnnpp.py check|write DIR")


if __name__ == "__main__":
    main()
