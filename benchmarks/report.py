#!/usr/bin/env python3
"""Prints one table from Google Benchmark JSON files (the medians of the repetitions),
with ratios against the best peer and the floor, then the targets of issue 6. The rows
of `one_core.json` (the throughput run with every thread on one core) are shown as the
time each input costs there, that is, its CPU time.

Usage: benchmarks/report.py results/*.json   (run by scripts/bench.sh)
"""
import json
import sys

# group -> (metric, higher is better, unit label)
METRICS = {
    "warm": ("p50_ns", False, "p50 ns"),
    "throughput": ("items_per_second", True, "items/s"),
    "one_core": ("ns_per_input", False, "ns/input"),
    "cold": ("p50_ns", False, "p50 ns"),
    "controller": ("ns_per_event", False, "ns/event"),
    "snapshot": ("p50_ns", False, "p50 ns"),
    "idle": ("cpu_ms", False, "CPU ms"),
    "fanout": ("all_warm_ms", False, "ms"),
    "memory": ("heap_bytes_per_worker", False, "B/worker"),
}


def load(paths):
    rows = {}
    for path in paths:
        with open(path) as f:
            data = json.load(f)
        one_core = path.endswith("one_core.json")  # throughput with every thread on one core
        for b in data["benchmarks"]:
            if b.get("aggregate_name", "median") != "median":
                continue
            name = b["run_name"]
            for suffix in ("/manual_time", "/real_time"):
                name = name.removesuffix(suffix)
            group, impl, *args = name.split("/")
            if "items_per_second" in b:
                b["ns_per_event"] = b["ns_per_input"] = 1e9 / b["items_per_second"]
            if one_core:
                group = "one_core"
            rows[(group, "/".join(args), impl)] = b
    return rows


def is_ours(impl):
    """warmpool, or one of its configurations (warmpool_batched)."""
    return impl == "warmpool" or impl.startswith("warmpool_")


def fmt(value):
    if value >= 1e6:
        return f"{value / 1e6:.2f}M"
    if value >= 1e4:
        return f"{value / 1e3:.1f}k"
    return f"{value:.1f}"


def main(paths):
    rows = load(paths)
    cases = sorted({(g, a) for g, a, _ in rows}, key=lambda c: (list(METRICS).index(c[0]), c[1]))
    print(f"{'benchmark':<56} {'value':>10} {'unit':<9} {'p99 ns':>9} {'vs best peer':>13} "
          f"{'vs floor':>9}")
    print("-" * 111)
    best = {}
    for group, args in cases:
        metric, higher, unit = METRICS[group]
        impls = {i: b for (g, a, i), b in rows.items() if (g, a) == (group, args)}
        peers = [b[metric] for i, b in impls.items() if not is_ours(i) and
                 not i.startswith("floor")]
        floors = [b[metric] for i, b in impls.items() if i.startswith("floor")]
        best_peer = (max if higher else min)(peers) if peers else None
        best[(group, args)] = (impls, best_peer)
        for impl in sorted(impls, key=lambda i: (not is_ours(i), i)):
            b = impls[impl]
            value = b[metric]
            p99 = fmt(b["p99_ns"]) if "p99_ns" in b else ""
            vs_peer = f"{value / best_peer:.2f}x" if best_peer else ""
            vs_floor = f"{value / floors[0]:.2f}x" if floors else ""
            label = "/".join(x for x in (group, impl, args) if x)
            print(f"{label:<56} {fmt(value):>10} {unit:<9} {p99:>9} {vs_peer:>13} {vs_floor:>9}")
        print()

    print("Issue 6 targets (this run):")
    checks = []
    for (group, args), (impls, best_peer) in sorted(best.items()):
        wp = impls.get("warmpool")
        if group == "warm" and wp:
            r = wp["p50_ns"] / best_peer
            checks.append((f"1 warm p50 <= 0.5x best peer", r <= 0.5, f"{r:.2f}x"))
        for impl in (i for i in impls if is_ours(i) and group == "throughput"):
            ours = impls[impl]["items_per_second"]
            r = ours / best_peer
            ra = ours / impls["asio"]["items_per_second"]
            checks.append((f"2 throughput {args} {impl}: >= best peer, >= 1.5x asio",
                           r >= 1 and ra >= 1.5, f"{r:.2f}x best peer, {ra:.2f}x asio"))
        if group == "cold" and wp:
            r = wp["p50_ns"] / impls["floor_thread"]["p50_ns"]
            checks.append(("3 cold start p50 <= 1.5x thread create+join", r <= 1.5, f"{r:.2f}x"))
    ctl = {a: b for (g, a, i), b in rows.items() if g == "controller"}
    if "workers:100" in ctl and "workers:100000" in ctl:
        r = ctl["workers:100000"]["ns_per_event"] / ctl["workers:100"]["ns_per_event"]
        checks.append(("4 controller ns/event at 100k <= 2x at 100", r <= 2, f"{r:.2f}x"))
    for (group, args), (impls, _) in sorted(best.items()):
        wp = impls.get("warmpool")
        if group == "idle" and wp:
            checks.append(("5 CPU of 1,000 idle warm workers over 10 s <= 10 ms",
                           wp["cpu_ms"] <= 10, f"{wp['cpu_ms']:.1f} ms in {wp['seconds']:.0f} s"))
        if group == "fanout" and wp:
            checks.append(("6 keep_warm 0 -> 64, 100 ms enter: all warm <= 150 ms",
                           wp["all_warm_ms"] <= 150, f"{wp['all_warm_ms']:.0f} ms"))
        if group == "memory" and wp:
            checks.append(("7 bytes per idle worker (reported; no target)", True,
                           f"heap {wp['heap_bytes_per_worker']:.0f} B, "
                           f"stack RSS {wp['stack_rss_bytes_per_worker']:.0f} B"))
    for what, ok, detail in sorted(checks):
        print(f"  {'PASS' if ok else 'FAIL'}  {what:<58} {detail}")


if __name__ == "__main__":
    main(sys.argv[1:])
