"""Where a training step's time goes: the PyTorch eager reference of a scripts/bench benchmark under the PyTorch
profiler, fp32 or bf16 autocast (the same oneDNN / ATen kernels scorelab calls). Prints the operators with the largest
self CPU time and their share of the step.

Usage: /usr/bin/python3 bench/profile_reference.py NAME [--autocast] [--threads N] [--top K]
"""
import argparse
import os
import sys

import torch

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import reference  # noqa: E402


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("name", choices=sorted(reference.BENCHES))
    p.add_argument("--autocast", action="store_true")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--top", type=int, default=15)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    reference.AUTOCAST = args.autocast
    torch.manual_seed(0)
    _, step, _, _ = reference.BENCHES[args.name]()
    step()  # warm-up (oneDNN primitive creation, first-touch allocations)
    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as prof:
        step()
    events = [e for e in prof.key_averages() if e.self_cpu_time_total > 0]
    total = sum(e.self_cpu_time_total for e in events)
    print(f"{args.name} precision={'autocast-bf16' if args.autocast else 'fp32'} threads={args.threads} "
          f"step_ms={total / 1000:.1f}")
    for e in sorted(events, key=lambda e: -e.self_cpu_time_total)[: args.top]:
        print(f"  {e.key:40s} {e.self_cpu_time_total / 1000:9.1f} ms  {100 * e.self_cpu_time_total / total:5.1f}%  "
              f"calls={e.count}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
