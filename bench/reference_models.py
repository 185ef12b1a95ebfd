"""PyTorch eager versions of scorelab's networks, for the benchmarks in bench/ (scripts/bench).

Each class mirrors the C++ module of the same role (src/models/*.cpp): same layers, shapes, nonlinearities
and parameter count (checked by bench/reference.py against the C++ count printed by scorelab_bench). They are
written the way one writes these networks in plain PyTorch (torch.nn.utils.weight_norm, nn.Dropout2d,
F.elu(torch.cat([x, -x]))), so the timings compare scorelab with an ordinary eager implementation.
Initialisation is PyTorch's default everywhere: it does not change the cost of a step.
"""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.nn.utils import weight_norm

# ---------------------------------------------------------------------------------------------------------
# PixelCNN++ (src/models/pixelcnnpp.cpp)


def concat_elu(x):
    return F.elu(torch.cat([x, -x], 1))


def down_shift(x):
    return F.pad(x[:, :, :-1, :], (0, 0, 1, 0))


def right_shift(x):
    return F.pad(x[:, :, :, :-1], (1, 0, 0, 0))


def nin(cin, cout):
    return weight_norm(nn.Conv2d(cin, cout, 1))


class ShiftedConv(nn.Module):
    def __init__(self, cin, cout, down=True, kernel=None, stride=1, shift_output=False):
        super().__init__()
        kh, kw = kernel or ((2, 3) if down else (2, 2))
        self.conv = weight_norm(nn.Conv2d(cin, cout, (kh, kw), stride))
        self.pad = ((kw - 1) // 2, (kw - 1) // 2, kh - 1, 0) if down else (kw - 1, 0, kh - 1, 0)
        self.down, self.shift_output = down, shift_output

    def forward(self, x):
        out = self.conv(F.pad(x, self.pad))
        if not self.shift_output:
            return out
        return down_shift(out) if self.down else right_shift(out)


class ShiftedDeconv(nn.Module):
    def __init__(self, cin, cout, down=True):
        super().__init__()
        self.kh, self.kw = (2, 3) if down else (2, 2)
        # dim=1: one norm per output channel, as scorelab (and the TensorFlow original) normalise.
        self.deconv = weight_norm(nn.ConvTranspose2d(cin, cout, (self.kh, self.kw), 2, output_padding=1), dim=1)
        self.down = down

    def forward(self, x):
        out = self.deconv(x)
        h, w = out.shape[2], out.shape[3]
        out = out[:, :, : h - self.kh + 1]
        if self.down:
            return out[:, :, :, (self.kw - 1) // 2 : w - (self.kw - 1) // 2]
        return out[:, :, :, : w - self.kw + 1]


class GatedResnet(nn.Module):
    def __init__(self, f, down, skip, dropout):
        super().__init__()
        self.conv_input = ShiftedConv(2 * f, f, down)
        self.nin_skip = nin(2 * skip, f) if skip else None
        self.dropout = nn.Dropout2d(dropout)
        self.conv_out = ShiftedConv(2 * f, 2 * f, down)

    def forward(self, x, a=None):
        c = self.conv_input(concat_elu(x))
        if a is not None:
            c = c + self.nin_skip(concat_elu(a))
        c = self.dropout(concat_elu(c))
        c = self.conv_out(c)
        a, b = torch.chunk(c, 2, 1)
        return x + a * torch.sigmoid(b)


class PixelCNNpp(nn.Module):
    def __init__(self, nr_resnet=5, nr_filters=40, nr_mix=10, channels=1, dropout=0.5, stacked=False):
        super().__init__()
        f, cin = nr_filters, channels + 1
        self.nr_resnet, self.stacked = nr_resnet, stacked
        self.extra = [0, 1, 1]

        def stage(blocks, down_pass):
            u = nn.ModuleList([GatedResnet(f, True, f if down_pass else 0, dropout) for _ in range(blocks)])
            ul = nn.ModuleList([GatedResnet(f, False, 2 * f if down_pass else f, dropout) for _ in range(blocks)])
            return nn.ModuleList([u, ul])

        self.up_layers = nn.ModuleList([stage(nr_resnet, False) for _ in range(3)])
        self.down_layers = nn.ModuleList([stage(nr_resnet + e, True) for e in self.extra])
        self.downsize_u = nn.ModuleList([ShiftedConv(f, f, True, (2, 3), 2) for _ in range(2)])
        self.downsize_ul = nn.ModuleList([ShiftedConv(f, f, False, (2, 2), 2) for _ in range(2)])
        self.upsize_u = nn.ModuleList([ShiftedDeconv(f, f, True) for _ in range(2)])
        self.upsize_ul = nn.ModuleList([ShiftedDeconv(f, f, False) for _ in range(2)])
        self.u_init = ShiftedConv(cin, f, True, (2, 3), 1, True)
        self.ul_init_down = ShiftedConv(cin, f, True, (1, 3), 1, True)
        self.ul_init_right = ShiftedConv(cin, f, False, (2, 1), 1, True)
        self.nin_out = nin(f, (3 if channels == 1 else 10) * nr_mix)

    def trunk(self, x):
        ones = torch.ones(x.shape[0], 1, x.shape[2], x.shape[3], dtype=x.dtype)
        xin = torch.cat([x, ones], 1)
        u_list = [self.u_init(xin)]
        ul_list = [self.ul_init_down(xin) + self.ul_init_right(xin)]
        for s in range(3):
            u_blocks, ul_blocks = self.up_layers[s]
            for i in range(self.nr_resnet):
                u = u_blocks[i](u_list[-1])
                ul = ul_blocks[i](ul_list[-1], u)
                u_list.append(u)
                ul_list.append(ul)
            if s != 2:
                u_list.append(self.downsize_u[s](u_list[-1]))
                ul_list.append(self.downsize_ul[s](ul_list[-1]))
        u, ul = u_list.pop(), ul_list.pop()
        for s in range(3):
            u_blocks, ul_blocks = self.down_layers[s]
            for i in range(self.nr_resnet + self.extra[s]):
                u = u_blocks[i](u, u_list.pop())
                ul = ul_blocks[i](ul, torch.cat([u, ul_list.pop()], 1))
            if s != 2:
                u = self.upsize_u[s](u)
                ul = self.upsize_ul[s](ul)
        return self.nin_out(F.elu(ul))

    def forward(self, x, cond=None):
        if not self.stacked:
            return self.trunk(x)
        h = x.shape[2]
        return self.trunk(torch.cat([cond, x], 2))[:, :, h:]


def mix_logistic_log_prob(x, params, log_scale_min=-7.0):
    """Continuous logistic mixture log-density (gray images), summed per example: [N]."""
    n, _, h, w = x.shape
    m = params.shape[1] // 3
    l = params.permute(0, 2, 3, 1)
    logits = l[..., :m]
    rest = l[..., m:].reshape(n, h, w, 1, 2 * m)
    means = rest[..., :m]
    log_scales = rest[..., m : 2 * m].clamp(min=log_scale_min)
    xs = x.permute(0, 2, 3, 1).unsqueeze(-1)
    z = (xs - means) * torch.exp(-log_scales)
    log_probs = z - log_scales - 2.0 * F.softplus(z)
    return torch.logsumexp(log_probs.sum(3) + F.log_softmax(logits, -1), -1).sum((1, 2))


# ---------------------------------------------------------------------------------------------------------
# NCSNv2 (src/models/ncsnv2.cpp)


def conv3x3(cin, cout, bias=True, dilation=1):
    return nn.Conv2d(cin, cout, 3, padding=dilation, dilation=dilation, bias=bias)


class InstanceNormPlus(nn.Module):
    def __init__(self, f):
        super().__init__()
        self.alpha = nn.Parameter(torch.empty(f).normal_(1.0, 0.02))
        self.gamma = nn.Parameter(torch.empty(f).normal_(1.0, 0.02))
        self.beta = nn.Parameter(torch.zeros(f))

    def forward(self, x):
        var, mu = torch.var_mean(x, (2, 3), unbiased=False, keepdim=True)
        h = (x - mu) * torch.rsqrt(var + 1e-5)
        v, m = torch.var_mean(mu, 1, unbiased=True, keepdim=True)
        means = (mu - m) * torch.rsqrt(v + 1e-5)
        g, a, b = (p.view(1, -1, 1, 1) for p in (self.gamma, self.alpha, self.beta))
        return g * (h + a * means) + b


class NCSNResBlock(nn.Module):
    def __init__(self, cin, cout, down, dilation):
        super().__init__()
        d = dilation if dilation > 0 else 1
        self.down, self.pool = down, down and dilation == 0
        self.norm1 = InstanceNormPlus(cin)
        if down:
            self.conv1 = conv3x3(cin, cin, True, d)
            self.norm2 = InstanceNormPlus(cin)
            self.conv2 = conv3x3(cin, cout, True, d)
            self.shortcut = nn.Conv2d(cin, cout, 1) if self.pool else conv3x3(cin, cout, True, d)
        else:
            self.conv1 = conv3x3(cin, cout, True, d)
            self.norm2 = InstanceNormPlus(cout)
            self.conv2 = conv3x3(cout, cout, True, d)

    def forward(self, x):
        h = self.conv1(F.elu(self.norm1(x)))
        h = self.conv2(F.elu(self.norm2(h)))
        if not self.down:
            return x + h
        if self.pool:
            return F.avg_pool2d(self.shortcut(x), 2) + F.avg_pool2d(h, 2)
        return self.shortcut(x) + h


class RCUBlock(nn.Module):
    def __init__(self, f, blocks, stages):
        super().__init__()
        self.blocks, self.stages = blocks, stages
        self.convs = nn.ModuleList([conv3x3(f, f, False) for _ in range(blocks * stages)])

    def forward(self, x):
        for i in range(self.blocks):
            residual = x
            for j in range(self.stages):
                x = self.convs[i * self.stages + j](F.elu(x))
            x = x + residual
        return x


class CRPBlock(nn.Module):
    def __init__(self, f, stages):
        super().__init__()
        self.convs = nn.ModuleList([conv3x3(f, f, False) for _ in range(stages)])

    def forward(self, x):
        x = F.elu(x)
        path = x
        for conv in self.convs:
            path = conv(F.max_pool2d(path, 5, 1, 2))
            x = path + x
        return x


class RefineBlock(nn.Module):
    def __init__(self, in_planes, f, end):
        super().__init__()
        self.adapt = nn.ModuleList([RCUBlock(p, 2, 2) for p in in_planes])
        self.output = RCUBlock(f, 3 if end else 1, 2)
        self.msf = nn.ModuleList([conv3x3(p, f) for p in in_planes]) if len(in_planes) > 1 else None
        self.crp = CRPBlock(f, 2)

    def forward(self, xs, size):
        if len(xs) == 1:
            h = self.adapt[0](xs[0])
        else:
            h = None
            for i, x in enumerate(xs):
                hi = self.msf[i](self.adapt[i](x))
                hi = F.interpolate(hi, size=size, mode="bilinear", align_corners=True)
                h = hi if h is None else h + hi
        return self.output(self.crp(h))


class NCSNv2(nn.Module):
    def __init__(self, channels=1, ngf=32):
        super().__init__()
        n, n2 = ngf, 2 * ngf
        self.begin_conv = conv3x3(channels, n)
        specs = [[(n, n, False, 0), (n, n, False, 0)], [(n, n2, True, 0), (n2, n2, False, 0)],
                 [(n2, n2, True, 2), (n2, n2, False, 2)], [(n2, n2, True, 4), (n2, n2, False, 4)]]
        self.stages = nn.ModuleList([nn.ModuleList([NCSNResBlock(*s) for s in stage]) for stage in specs])
        self.refine = nn.ModuleList([RefineBlock([n2], n2, False), RefineBlock([n2, n2], n2, False),
                                     RefineBlock([n2, n2], n, False), RefineBlock([n, n], n, True)])
        self.normalizer = InstanceNormPlus(n)
        self.end_conv = conv3x3(n, channels)

    def forward(self, x, sigma):
        h = self.begin_conv(2 * x - 1)
        layers = []
        for stage in self.stages:
            for block in stage:
                h = block(h)
            layers.append(h)
        ref = self.refine[0]([layers[3]], layers[3].shape[2:])
        ref = self.refine[1]([layers[2], ref], layers[2].shape[2:])
        ref = self.refine[2]([layers[1], ref], layers[1].shape[2:])
        ref = self.refine[3]([layers[0], ref], layers[0].shape[2:])
        out = self.end_conv(F.elu(self.normalizer(ref)))
        return out / sigma.view(-1, 1, 1, 1)


# ---------------------------------------------------------------------------------------------------------
# DDPM U-Net (src/models/unet.cpp)


class GroupNorm32(nn.GroupNorm):
    """Group norm in float32 whatever the input (improved-diffusion's GroupNorm32; a no-op in fp32). Under
    torch.autocast("cpu") in PyTorch 1.13 a plain nn.GroupNorm after a bf16 convolution fails ("expected scalar
    type BFloat16 but found Float"), so the autocast reference needs it, as scorelab's U-Net does."""

    def forward(self, x):
        return super().forward(x.float()).type(x.dtype)


def group_norm(c):
    groups = min(32, max(c // 4, 1))
    while c % groups:
        groups -= 1
    return GroupNorm32(groups, c, eps=1e-6)


def timestep_embedding(t, dim):
    half = dim // 2
    freqs = torch.exp(torch.arange(half, dtype=torch.float32) * (-math.log(10000.0) / (half - 1)))
    args = t.float()[:, None] * freqs[None]
    return torch.cat([torch.sin(args), torch.cos(args)], 1)


class UNetResBlock(nn.Module):
    def __init__(self, cin, cout, temb, dropout):
        super().__init__()
        self.norm1, self.conv1 = group_norm(cin), nn.Conv2d(cin, cout, 3, padding=1)
        self.temb_proj = nn.Linear(temb, cout)
        self.norm2, self.dropout, self.conv2 = group_norm(cout), nn.Dropout(dropout), nn.Conv2d(cout, cout, 3, padding=1)
        self.nin_shortcut = nn.Conv2d(cin, cout, 1) if cin != cout else None

    def forward(self, x, temb):
        h = self.conv1(F.silu(self.norm1(x)))
        h = h + self.temb_proj(F.silu(temb))[:, :, None, None]
        h = self.conv2(self.dropout(F.silu(self.norm2(h))))
        return (self.nin_shortcut(x) if self.nin_shortcut is not None else x) + h


class UNetAttnBlock(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.norm = group_norm(c)
        self.q, self.k, self.v, self.proj_out = (nn.Conv2d(c, c, 1) for _ in range(4))

    def forward(self, x):
        b, c, h, w = x.shape
        hn = self.norm(x)
        q, k, v = (m(hn).reshape(b, c, h * w) for m in (self.q, self.k, self.v))
        wts = torch.softmax(torch.bmm(q.transpose(1, 2), k) / math.sqrt(c), 2)
        out = torch.bmm(v, wts.transpose(1, 2)).reshape(b, c, h, w)
        return x + self.proj_out(out)


class UNet(nn.Module):
    def __init__(self, channels=1, image_size=28, ch=32, ch_mult=(1, 2, 2), num_res_blocks=1, attn=(14,), dropout=0.1):
        super().__init__()
        temb = 4 * ch
        self.ch, self.levels = ch, len(ch_mult)
        self.temb_dense0, self.temb_dense1 = nn.Linear(ch, temb), nn.Linear(temb, temb)
        self.conv_in = nn.Conv2d(channels, ch, 3, padding=1)
        skips, block_in, res = [ch], ch, image_size
        self.down_blocks, self.down_attn, self.downsample = nn.ModuleList(), nn.ModuleList(), nn.ModuleList()
        for i, mult in enumerate(ch_mult):
            blocks, attns = nn.ModuleList(), nn.ModuleList()
            for _ in range(num_res_blocks):
                blocks.append(UNetResBlock(block_in, ch * mult, temb, dropout))
                block_in = ch * mult
                if res in attn:
                    attns.append(UNetAttnBlock(block_in))
                skips.append(block_in)
            self.down_blocks.append(blocks)
            self.down_attn.append(attns)
            if i != self.levels - 1:
                self.downsample.append(nn.Conv2d(block_in, block_in, 3, 2))
                skips.append(block_in)
                res //= 2
        self.mid1 = UNetResBlock(block_in, block_in, temb, dropout)
        self.mid_attn = UNetAttnBlock(block_in)
        self.mid2 = UNetResBlock(block_in, block_in, temb, dropout)
        self.up_blocks, self.up_attn, self.upsample = nn.ModuleList(), nn.ModuleList(), nn.ModuleList()
        for i in reversed(range(self.levels)):
            blocks, attns = nn.ModuleList(), nn.ModuleList()
            for _ in range(num_res_blocks + 1):
                blocks.append(UNetResBlock(block_in + skips.pop(), ch * ch_mult[i], temb, dropout))
                block_in = ch * ch_mult[i]
                if res in attn:
                    attns.append(UNetAttnBlock(block_in))
            self.up_blocks.append(blocks)
            self.up_attn.append(attns)
            if i != 0:
                self.upsample.append(nn.Conv2d(block_in, block_in, 3, padding=1))
                res *= 2
        self.norm_out = group_norm(block_in)
        self.conv_out = nn.Conv2d(block_in, channels, 3, padding=1)

    def forward(self, x, t):
        temb = self.temb_dense1(F.silu(self.temb_dense0(timestep_embedding(t, self.ch))))
        hs = [self.conv_in(x)]
        for i in range(self.levels):
            for j, block in enumerate(self.down_blocks[i]):
                h = block(hs[-1], temb)
                if len(self.down_attn[i]):
                    h = self.down_attn[i][j](h)
                hs.append(h)
            if i != self.levels - 1:
                size = hs[-1].shape[2]
                total = max((size + 1) // 2 * 2 + 1 - size, 0)
                before = total // 2
                hs.append(self.downsample[i](F.pad(hs[-1], (before, total - before, before, total - before))))
        h = self.mid2(self.mid_attn(self.mid1(hs[-1], temb)), temb)
        for k, i in enumerate(reversed(range(self.levels))):
            for j, block in enumerate(self.up_blocks[k]):
                h = block(torch.cat([h, hs.pop()], 1), temb)
                if len(self.up_attn[k]):
                    h = self.up_attn[k][j](h)
            if i != 0:
                h = self.upsample[k](F.interpolate(h, scale_factor=2, mode="nearest"))
        return self.conv_out(F.silu(self.norm_out(h)))


# ---------------------------------------------------------------------------------------------------------
# Toy score network (src/models/toy_score.cpp, mlp.cpp)


def sinusoidal_embedding(t, dim, max_period=10000.0):
    half = dim // 2
    freqs = torch.exp(-math.log(max_period) * torch.arange(half, dtype=torch.float32) / half)
    args = t.float()[:, None] * freqs[None]
    return torch.cat([torch.sin(args), torch.cos(args)], -1)


class ScoreMLP(nn.Module):
    def __init__(self, dim=2, hidden=128, depth=3, embed=32, scale=1.0):
        super().__init__()
        layers, width = [], dim + embed
        for _ in range(depth):
            layers += [nn.Linear(width, hidden), nn.SiLU()]
            width = hidden
        self.body, self.last = nn.Sequential(*layers), nn.Linear(width, dim)
        self.embed, self.scale = embed, scale

    def forward(self, x, sigma):
        s = sigma.reshape(-1, 1)
        c_in = torch.rsqrt(s * s + self.scale * self.scale)
        emb = sinusoidal_embedding(torch.log(s).squeeze(1) * 10.0, self.embed)
        return self.last(self.body(torch.cat([x * c_in, emb], 1))) / s


def param_count(module):
    return sum(p.numel() for p in module.parameters())
