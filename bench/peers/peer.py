"""The PyTorch peer: checks that bench/peers/networks.py computes what cupick computes, then times
inference and a training step in PyTorch's fastest honest configurations.

  peer.py check DIR [--device cpu|cuda] [--out check.json]
      DIR holds what cupick_peer_reference wrote (<arch>.safetensors, <arch>.reference.safetensors:
      cupick's CPU path in double, from the float weights and input). Compares the inference output
      (moving statistics), the training-mode output (batch statistics) and the gradients of
      0.5 * sum(train output^2) for the first and the last convolution's kernels, computed here in
      float64, which must agree to 1e-5 x max |cupick| (the reference is stored rounded to float),
      and in float32 (TF32 off), whose difference is reported: it is float32's own error, about 1e-4
      of the outputs and up to 2% of the first kernel's gradient, whose batch-statistics backward
      cancels large terms.
  peer.py time DIR [--device cpu|cuda] [--size 1024] [--infer-batches 1,4,8] [--train-batches 1,4,8]
                   [--configs ...] [--repeat N] [--out peer.json]
      Times each network (its weights from DIR) in every configuration and keeps all figures; the
      table (table.py) reports the fastest per case. The training step is forward, a stand-in loss
      (0.5 * sum of squares of the head output instead of the YOLO loss, whose cost is negligible
      beside the network's), backward and Adam (fused on the GPU).

GPU configurations: fp32 (PyTorch's defaults: cuDNN convolutions in TF32, NCHW), bf16 (channels_last,
bf16 autocast), bf16+graph (the same, inference replayed as a CUDA graph), bf16+compile (the same,
torch.compile, default mode; for --compile-archs only). cudnn.benchmark is on in all. CPU: fp32 NCHW,
fp32 channels_last, bf16 autocast (channels_last), fp32+mkldnn (the model in oneDNN's blocked layout,
inference only) and fp32+compile (PyTorch 2.0 and later); torch.set_num_threads(number of cores).
"""
import argparse
import json
import os
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from networks import build  # noqa: E402

ARCHS = ("PhosaurusNet", "YOLO", "crYOLO")


def check(args):
    from safetensors.torch import load_file

    dev = torch.device(args.device)
    torch.backends.cudnn.allow_tf32 = False
    torch.backends.cuda.matmul.allow_tf32 = False
    records, ok = [], True
    for arch in ARCHS:
        ref_path = os.path.join(args.dir, f"{arch}.reference.safetensors")
        if not os.path.exists(ref_path):
            continue
        ref = load_file(ref_path)
        for dtype in (torch.float64, torch.float32):
            got = run_reference(build(arch, os.path.join(args.dir, f"{arch}.safetensors")), ref, dev, dtype)
            for key, value in got.items():
                want = ref[key].to(dev, torch.float64)
                diff = (value.double() - want).abs().max().item()
                scale = want.abs().max().item()
                passed = diff <= 1e-5 * scale if dtype == torch.float64 else None
                ok &= passed is not False
                kind = str(dtype).replace("torch.", "")
                records.append({"arch": arch, "tensor": key, "dtype": kind, "max_abs_diff": diff,
                                "max_abs_ref": scale, "ok": passed})
                verdict = {True: "ok", False: "FAIL", None: "(float32: reported)"}[passed]
                print(f"check {arch:12s} {kind:7s} {key:26s} max|diff| {diff:.3e}  max|ref| {scale:.3e}  {verdict}")
    if not records:
        raise SystemExit(f"peer.py: no <arch>.reference.safetensors in {args.dir}")
    if args.out:
        with open(args.out, "w") as f:
            json.dump({"device": args.device, "checks": records}, f, indent=1)
    return 0 if ok else 1


def run_reference(model, ref, dev, dtype):
    """The tensors the reference file holds, computed by the peer in dtype."""
    model = model.to(dev, dtype)
    x = ref["input"].to(dev, dtype)
    model.eval()
    with torch.no_grad():
        got = {"infer": model(x)}
    model.train()
    out = model(x)
    (0.5 * (out * out).sum()).backward()
    got["train"] = out.detach()
    for key in ref:
        if key.startswith("grad/"):
            node = key.split("/")[1]
            got[key] = model.layers[node].weight.grad
    return got


def configs_for(device):
    if device == "cuda":
        return ["fp32", "bf16", "bf16+graph", "bf16+compile"]
    # CPU: oneDNN's direct convolutions in NCHW or NHWC, bf16 autocast (AVX512-BF16 or AMX where the
    # CPU has them), the whole model in oneDNN's blocked layout (inference), and torch.compile where
    # this PyTorch has it (2.0 and later).
    cpu = ["fp32", "fp32+channels_last", "bf16", "fp32+mkldnn"]
    return cpu + (["fp32+compile"] if hasattr(torch, "compile") else [])


class Timer:
    """Mean seconds per call after warm-up: CUDA events on the GPU, the wall clock on the CPU."""

    def __init__(self, device, repeat, min_seconds):
        self.cuda, self.repeat, self.min_seconds = device == "cuda", repeat, min_seconds

    def __call__(self, fn):
        for _ in range(3 if self.cuda else 1):  # cuDNN's algorithm search, the allocator; compiling
            fn()
        if self.cuda:
            torch.cuda.synchronize()
        n, total = 0, 0.0
        while n < self.repeat or total < self.min_seconds:
            if self.cuda:
                start, stop = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
                start.record()
                fn()
                stop.record()
                stop.synchronize()
                total += start.elapsed_time(stop) * 1e-3
            else:
                t0 = time.perf_counter()
                fn()
                total += time.perf_counter() - t0
            n += 1
            if n >= 1000:
                break
        return total / n


def prepare(arch, weights, device, config):
    model = build(arch, weights).to(device)
    bf16 = config.startswith("bf16")
    if bf16 or "channels_last" in config:
        model = model.to(memory_format=torch.channels_last)
    run = torch.compile(model) if config.endswith("+compile") else model
    return model, run, bf16


def time_inference(arch, weights, device, config, batch, size, timer):
    model, run, bf16 = prepare(arch, weights, device, config)
    model.eval()
    fmt = torch.channels_last if bf16 or "channels_last" in config else torch.contiguous_format
    x = torch.randn(batch, 1, size, size, device=device).contiguous(memory_format=fmt)
    if config.endswith("+mkldnn"):  # weights and activations in oneDNN's blocked layout throughout
        from torch.utils import mkldnn
        run, x = mkldnn.to_mkldnn(model), x.to_mkldnn()

    def step():
        with torch.inference_mode(), torch.autocast(device, dtype=torch.bfloat16, enabled=bf16):
            return run(x)

    if config.endswith("+graph"):
        stream = torch.cuda.Stream()
        stream.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(stream):
            for _ in range(3):
                step()
        torch.cuda.current_stream().wait_stream(stream)
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph):
            step()
        return timer(graph.replay)
    return timer(step)


def time_training(arch, weights, device, config, batch, size, timer):
    if config.endswith("+graph") or config.endswith("+mkldnn"):
        return None  # a captured step needs capturable optimizer state; mkldnn modules are inference only
    model, run, bf16 = prepare(arch, weights, device, config)
    model.train()
    fmt = torch.channels_last if bf16 or "channels_last" in config else torch.contiguous_format
    x = torch.randn(batch, 1, size, size, device=device).contiguous(memory_format=fmt)
    adam = torch.optim.Adam(model.parameters(), lr=1e-4, fused=device == "cuda")

    def step():
        with torch.autocast(device, dtype=torch.bfloat16, enabled=bf16):
            out = run(x)
        loss = 0.5 * out.float().square().sum()
        loss.backward()
        adam.step()
        adam.zero_grad(set_to_none=True)

    return timer(step)


def time_all(args):
    device = args.device
    torch.backends.cudnn.benchmark = True
    if device == "cpu":
        torch.set_num_threads(os.cpu_count())
    configs = args.configs.split(",") if args.configs else configs_for(device)
    timer = Timer(device, args.repeat, args.min_seconds)
    results = []
    tasks = [("inference", b, time_inference) for b in args.infer_batches] + \
            [("train_step", b, time_training) for b in args.train_batches]
    for arch in args.archs.split(","):
        weights = os.path.join(args.dir, f"{arch}.safetensors")
        for task, batch, fn in tasks:
            for config in configs:
                if config.endswith("+compile") and arch not in args.compile_archs.split(","):
                    continue
                record = {"arch": arch, "task": task, "batch": batch, "size": args.size, "config": config}
                try:
                    seconds = fn(arch, weights, device, config, batch, args.size, timer)
                except Exception as e:  # a configuration that fails here is reported, not fatal
                    record["error"] = f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"[:200]
                    seconds = None
                if seconds is None and "error" not in record:
                    continue
                if seconds is not None:
                    record["ms_per_image"] = seconds * 1e3 / batch
                results.append(record)
                shown = f"{record['ms_per_image']:10.2f} ms/image" if seconds is not None else record["error"]
                print(f"peer {arch:12s} {task:10s} batch {batch} {config:20s} {shown}", flush=True)
                if device == "cuda":
                    torch.cuda.empty_cache()
    info = {"device": torch.cuda.get_device_name() if device == "cuda" else cpu_name(),
            "torch": torch.__version__, "threads": torch.get_num_threads(),
            "cudnn": cudnn_version() if device == "cuda" else None,
            "results": results}
    with open(args.out, "w") as f:
        json.dump(info, f, indent=1)
    return 0


def cudnn_version():
    v = torch.backends.cudnn.version() or 0
    return f"{v // 10000}.{v // 100 % 100}.{v % 100}"


def cpu_name():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return f"{line.split(':', 1)[1].strip()} ({os.cpu_count()} cores)"
    except OSError:
        pass
    return f"cpu ({os.cpu_count()} cores)"


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("mode", choices=["check", "time"])
    p.add_argument("dir", help="what cupick_peer_reference wrote")
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu", choices=["cpu", "cuda"])
    p.add_argument("--out")
    p.add_argument("--size", type=int, default=1024)
    p.add_argument("--archs", default=",".join(ARCHS))
    batches = lambda s: [int(b) for b in s.split(",") if b]  # noqa: E731
    p.add_argument("--infer-batches", type=batches, default=[1, 4, 8])
    p.add_argument("--train-batches", type=batches, default=[1, 4, 8])
    p.add_argument("--configs", help="comma-separated; default: all for the device")
    p.add_argument("--compile-archs", default=",".join(ARCHS),
                   help="the networks that +compile configurations are tried for (compiling takes minutes)")
    p.add_argument("--repeat", type=int, default=10, help="timed calls at least")
    p.add_argument("--min-seconds", type=float, default=1.0, help="and at least this long in all")
    args = p.parse_args()
    if args.mode == "check":
        return check(args)
    if not args.out:
        p.error("time needs --out")
    return time_all(args)


if __name__ == "__main__":
    sys.exit(main())
