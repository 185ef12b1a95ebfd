"""PyTorch eager reference timings for scripts/bench: the same networks (bench/reference_models.py), shapes,
losses and optimiser as bench/*.cpp. Prints one line per benchmark: NAME reference_ms=Y params=P.

Usage: /usr/bin/python3 bench/reference.py [NAME...] [--threads N] [--iters N] [--warmup N] [--autocast]

--autocast runs each step's forward pass and loss under torch.autocast("cpu", dtype=torch.bfloat16), the
standard PyTorch mixed precision (the backward and the Adam step outside it, fp32 weights): the eager baseline
of scorelab's --precision bf16.
"""
import contextlib
import argparse
import math
import os
import statistics
import sys
import time

import torch

sys.dont_write_bytecode = True  # no __pycache__ in the source tree

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import reference_models as rm  # noqa: E402

LR = 2e-4


def median_ms(fn, warmup, iters):
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(iters):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000.0)
    return statistics.median(times)


def fake_images(n, c, s, seed):
    g = torch.Generator().manual_seed(seed)
    return torch.empty(n, c, s, s).uniform_(-1.0, 1.0, generator=g)


def geometric(sigma_max, sigma_min, levels):
    return torch.exp(torch.linspace(math.log(sigma_max), math.log(sigma_min), levels))


AUTOCAST = False  # --autocast


def mixed():
    return torch.autocast("cpu", dtype=torch.bfloat16) if AUTOCAST else contextlib.nullcontext()


def train_step(net, loss_fn):
    net.train()
    opt = torch.optim.Adam(net.parameters(), lr=LR)

    def step():
        opt.zero_grad()
        with mixed():
            loss = loss_fn()
        loss.backward()
        opt.step()

    return step


def dsm(score, x, sigmas):
    idx = torch.randint(len(sigmas), (x.shape[0],))
    sigma = sigmas[idx]
    s = sigma.view(-1, *([1] * (x.dim() - 1)))
    z = torch.randn_like(x)
    diff = score(x + s * z, sigma).float() * s + z  # network outputs in fp32, as scorelab's networks return
    return (0.5 * diff.pow(2).flatten(1).sum(1)).mean()


def pixelcnnpp_train():
    net = rm.PixelCNNpp(5, 40, 10, 1, 0.5)
    x = fake_images(80, 1, 28, 1)

    def loss():
        xt = x + 0.5 * torch.randn_like(x)
        return (-rm.mix_logistic_log_prob(xt, net(xt).float()) / 784.0).mean()

    return net, train_step(net, loss), 3, 1


def cond_pixelcnnpp_train():
    net = rm.PixelCNNpp(5, 40, 10, 1, 0.5, stacked=True)
    x = fake_images(50, 1, 28, 1)

    def loss():
        xt = x + 0.5 * torch.randn_like(x)
        target = x + 0.01 * torch.randn_like(x)
        return (-rm.mix_logistic_log_prob(target, net(target, xt).float()) / 784.0).mean()

    return net, train_step(net, loss), 3, 1


def ncsn_train():
    net = rm.NCSNv2(1, 32)
    x = (fake_images(32, 1, 28, 1) + 1) * 0.5
    sigmas = geometric(1.0, 0.01, 10)
    return net, train_step(net, lambda: dsm(net, x, sigmas)), 5, 1


def unet_train():
    net = rm.UNet(1, 28, 32, (1, 2, 2), 1, (14,), 0.1)
    x = fake_images(32, 1, 28, 1)
    betas = torch.linspace(1e-4, 0.02, 1000, dtype=torch.float64)
    abar = torch.cumprod(1 - betas, 0).float()

    def loss():
        t = torch.randint(1000, (x.shape[0],))
        noise = torch.randn_like(x)
        a = abar[t].view(-1, 1, 1, 1)
        xt = torch.sqrt(a) * x + torch.sqrt(1 - a) * noise
        return (net(xt, t).float() - noise).pow(2).flatten(1).mean(1).mean()

    return net, train_step(net, loss), 5, 1


def mlp_dsm_train():
    net = rm.ScoreMLP(2, 128, 3, 32, 1.0)
    x = torch.randn(256, 2) * 5.0
    sigmas = geometric(20.0, 1.0, 10)
    return net, train_step(net, lambda: dsm(net, x, sigmas)), 200, 20


def langevin_step():
    net = rm.NCSNv2(1, 32).eval()
    sigmas = geometric(1.0, 0.01, 10)
    h = 2e-5 * (sigmas[0] / sigmas[-1]).item() ** 2
    a, b = h / 2, math.sqrt(h)
    state = {"x": torch.rand(16, 1, 28, 28) * 2 - 1}
    sigma = torch.full((1,), sigmas[0].item())

    @torch.no_grad()
    def step():
        x = state["x"]
        with mixed():
            s = net(x, sigma).float()
        state["x"] = x + a * s + b * torch.randn_like(x)

    return net, step, 10, 2


def ddim_step():
    net = rm.UNet(1, 28, 32, (1, 2, 2), 1, (14,), 0.1).eval()
    betas = torch.linspace(1e-4, 0.02, 1000, dtype=torch.float64)
    abar = torch.cumprod(1 - betas, 0)
    t, t_next = 980, 960
    a, an = abar[t].item(), abar[t_next].item()
    cx, ce = math.sqrt(an / a), math.sqrt(1 - an) - math.sqrt(an) * math.sqrt((1 - a) / a)
    state = {"x": torch.randn(16, 1, 28, 28)}
    ts = torch.full((16,), t, dtype=torch.long)

    @torch.no_grad()
    def step():
        x = state["x"]
        with mixed():
            e = net(x, ts).float()
        state["x"] = cx * x + ce * e

    return net, step, 10, 2


BENCHES = {
    "pixelcnnpp-train": pixelcnnpp_train,
    "cond-pixelcnnpp-train": cond_pixelcnnpp_train,
    "ncsn-train": ncsn_train,
    "unet-train": unet_train,
    "mlp-dsm-train": mlp_dsm_train,
    "langevin-step": langevin_step,
    "ddim-step": ddim_step,
}


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("names", nargs="*")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--iters", type=int, default=-1)
    p.add_argument("--warmup", type=int, default=-1)
    p.add_argument("--list", action="store_true")
    p.add_argument("--autocast", action="store_true", help="bf16 autocast (CPU) for the forward passes and losses")
    args = p.parse_args()
    global AUTOCAST
    AUTOCAST = args.autocast
    if args.list:
        print("\n".join(BENCHES))
        return 0
    names = args.names or list(BENCHES)
    unknown = [n for n in names if n not in BENCHES]
    if unknown:
        print(f"reference.py: error: unknown benchmark(s) {', '.join(unknown)}; known: {', '.join(BENCHES)}",
              file=sys.stderr)
        return 2
    torch.set_num_threads(args.threads)
    for name in names:
        torch.manual_seed(0)
        net, step, iters, warmup = BENCHES[name]()
        ms = median_ms(step, args.warmup if args.warmup >= 0 else warmup, args.iters if args.iters > 0 else iters)
        print(f"{name} reference_ms={ms:.3f} params={rm.param_count(net)} threads={args.threads} "
              f"precision={'autocast-bf16' if AUTOCAST else 'fp32'}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
