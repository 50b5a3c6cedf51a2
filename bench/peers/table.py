"""Markdown tables from one run of scripts/bench.sh: our Google Benchmark JSON files and the peer's
JSON (peer.py time). Standard library only.

  table.py --networks ours_networks.json [--layers ours_layers.json] [--predict ours_predict.json]
           [--peer peer.json] [--check peer_check.json] [--commit C] [--driver D] --out bench.md

Ratios: "ours / peer" is throughput (the peer's time over ours: above 1, cupick is faster), against the
fastest peer configuration for the case, which is named. "% fp32" and "% bf16" are the achieved
TFLOP/s over the datasheet peaks in bench/peaks.h (none on the CPU or an unknown GPU).
"""
import argparse
import datetime
import json


def load(path):
    with open(path) as f:
        return json.load(f)


def parse_name(name):
    """'gpu/PhosaurusNet/inference/1024/batch:8/manual_time' -> its parts; layer names likewise."""
    parts = [p for p in name.split("/") if p not in ("manual_time", "real_time") and not p.startswith("iterations:")]
    batch = int(parts[-1].split(":")[1])
    return parts[0], parts[1:-1], batch


def ms_per_iteration(b):
    scale = {"ns": 1e-6, "us": 1e-3, "ms": 1.0, "s": 1e3}[b["time_unit"]]
    return b["real_time"] * scale  # with UseManualTime this field holds the manual (CUDA event) time


def fmt(x, digits=3):
    if x is None:
        return "-"
    if x >= 100:
        return f"{x:.0f}"
    return f"{x:.{digits}g}"


def network_table(ours, peer):
    best = {}  # (arch, task, batch) -> (ms/image, config)
    for r in (peer or {}).get("results", []):
        if "ms_per_image" in r:
            key = (r["arch"], r["task"], r["batch"])
            if key not in best or r["ms_per_image"] < best[key][0]:
                best[key] = (r["ms_per_image"], r["config"])
    rows, headline = [], []
    for b in ours["benchmarks"]:
        if b.get("run_type") == "aggregate" or "error_occurred" in b and b["error_occurred"]:
            continue
        device, (arch, task, size), batch = parse_name(b["name"])
        ms = ms_per_iteration(b) / batch
        rate = b.get("TFLOP/s", b.get("GFLOP/s"))
        unit = "TFLOP/s" if "TFLOP/s" in b else "GFLOP/s"
        peer_ms, config = best.get((arch, task, batch), (None, None))
        ratio = peer_ms / ms if peer_ms else None
        rows.append(f"| {arch} | {task} | {batch} | {fmt(ms)} | {fmt(rate)} {unit} | {fmt(b.get('%fp32'))} | "
                    f"{fmt(b.get('%bf16'))} | {fmt(peer_ms)} | {config or '-'} | {fmt(ratio)} |")
        if arch == "PhosaurusNet":
            headline.append(f"- PhosaurusNet {task.replace('_', ' ')}, {size}x{size}, batch {batch}: ours {fmt(ms)} ms/image"
                            + (f", PyTorch {fmt(peer_ms)} ms/image ({config}), ours/peer {fmt(ratio)}" if peer_ms else "")
                            + (f", {fmt(b['%bf16'])}% of the bf16 peak ({fmt(b['%fp32'])}% of fp32)" if "%bf16" in b else ""))
    head = ("| network | task | batch | ours ms/image | ours rate | % fp32 | % bf16 | PyTorch ms/image | PyTorch config "
            "| ours / peer |\n|---|---|---|---|---|---|---|---|---|---|")
    return head + "\n" + "\n".join(rows), headline


def layer_table(ours):
    """The layers' table, and a line for the STREAM-like copy (cpu/stream_copy) that the element-wise
    layers' GB/s are also given as a share of ("% copy")."""
    cases = {}  # (name, batch) -> {"label", "forward": b, "backward": b}
    copy = next((b["GB/s"] for b in ours["benchmarks"] if "/stream_copy" in b["name"]), None)
    for b in ours["benchmarks"]:
        if b.get("run_type") == "aggregate" or "/stream_copy" in b["name"]:
            continue
        device, (case, direction), batch = parse_name(b["name"])
        entry = cases.setdefault((case, batch), {"label": b.get("label", "")})
        entry[direction] = b

    def cell(b):
        if not b:
            return "- | -"
        for unit in ("TFLOP/s", "TB/s", "GFLOP/s", "GB/s"):
            if unit in b:
                pct = [f"{fmt(b[k])}% {k[1:]}" for k in ("%fp32", "%bf16", "%bw") if k in b]
                if unit == "GB/s" and copy:
                    pct.append(f"{fmt(100 * b[unit] / copy)}% copy")
                return f"{fmt(ms_per_iteration(b))} | {fmt(b[unit])} {unit}" + (f" ({', '.join(pct)})" if pct else "")
        return f"{fmt(ms_per_iteration(b))} | -"

    rows = [f"| {case} | {batch} | {e['label']} | {cell(e.get('forward'))} | {cell(e.get('backward'))} |"
            for (case, batch), e in cases.items()]
    head = ("| layer | batch | where | forward ms | forward rate | backward ms | backward rate |\n"
            "|---|---|---|---|---|---|---|")
    note = f"STREAM-like copy of 128 MB on every core (bench_layers cpu/stream_copy): {fmt(copy)} GB/s.\n\n" if copy else ""
    return note + head + "\n" + "\n".join(rows)


def predict_table(ours, micrographs):
    """bench_predict.cpp: picking end to end (read, filter, infer, decode, write), ours alone."""
    rows, headline = [], []
    for b in ours["benchmarks"]:
        if b.get("run_type") == "aggregate" or b.get("error_occurred"):
            continue
        device, (_, arch, size), batch = parse_name(b["name"])
        rate = b["items_per_second"]
        rows.append(f"| {arch} | {size} | {batch} | {fmt(rate)} | {fmt(1e3 / rate)} |")
        headline.append(f"- predict, micrographs/s ({micrographs}; {arch} at {size}, batch {batch}): {fmt(rate)}")
    head = "| network | input | batch | micrographs/s | ms/micrograph |\n|---|---|---|---|---|"
    return head + "\n" + "\n".join(rows), headline


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--networks", required=True)
    p.add_argument("--layers")
    p.add_argument("--predict")
    p.add_argument("--peer")
    p.add_argument("--check")
    p.add_argument("--commit", default="unknown")
    p.add_argument("--driver", default="")
    p.add_argument("--out", required=True)
    a = p.parse_args()
    ours = load(a.networks)
    peer = load(a.peer) if a.peer else None
    ctx = ours["context"]
    gpu = ctx.get("gpu")
    device = gpu or (peer or {}).get("device") or f"{ctx.get('num_cpus')} CPUs at {ctx.get('mhz_per_cpu')} MHz"
    lines = [f"## {'GPU' if gpu else 'CPU'}: {device}, {datetime.date.today().isoformat()}, commit {a.commit}", ""]
    if gpu:
        lines.append(f"cuDNN {ctx.get('cudnn')}, CUDA driver API {ctx.get('cuda_driver')}"
                     + (f", driver {a.driver}" if a.driver else "") + f"; peaks: {ctx.get('peaks')}.")
    if peer:
        lines.append(f"Peer: PyTorch {peer['torch']} on {peer['device']}, {peer['threads']} threads"
                     + (f", cuDNN {peer['cudnn']}" if peer.get("cudnn") else "") + ".")
        failed = [f"{r['arch']} {r['config']} {r['task']} batch {r['batch']}: {r['error']}"
                  for r in peer["results"] if "error" in r]
        if failed:
            lines.append("Peer configurations that failed: " + "; ".join(failed) + ".")
    if a.check:
        checks = load(a.check)["checks"]
        f64 = [c for c in checks if c["dtype"] == "float64"]
        worst = max(f64, key=lambda c: c["max_abs_diff"] / max(c["max_abs_ref"], 1e-30))
        verdict = "agrees" if all(c["ok"] for c in f64) else "DISAGREES"
        lines.append(f"Peer check ({len(f64)} tensors in float64 against cupick's CPU path): {verdict}; worst "
                     f"{worst['arch']} {worst['tensor']}: max |diff| {worst['max_abs_diff']:.2e} of max {worst['max_abs_ref']:.2e}.")
    table, headline = network_table(ours, peer)
    predict = load(a.predict) if a.predict else None
    if predict:
        ptable, pheadline = predict_table(predict, predict["context"].get("micrographs", "micrographs"))
        headline += pheadline
    lines += ["", "Headline:", *headline, "", "Whole networks (ours / peer: throughput ratio, above 1 cupick is faster):",
              "", table]
    if predict:
        lines += ["", "Predict end to end (read, low-pass filter, infer, decode, write; bench_predict.cpp):", "", ptable]
    if a.layers:
        lines += ["", "Layers (ours):", "", layer_table(load(a.layers))]
    with open(a.out, "w") as f:
        f.write("\n".join(lines) + "\n")
    print("\n".join(lines[: lines.index("Layers (ours):")] if a.layers else lines))


if __name__ == "__main__":
    main()
