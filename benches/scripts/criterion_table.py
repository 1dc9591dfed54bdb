#!/usr/bin/env python3
"""Prints the medians of the last `cargo bench -p benches --features peers` run side by side.

Usage: python3 benches/scripts/criterion_table.py [target/criterion]

For every benchmark group: each member's median time per iteration, its
throughput (elements per second, from the group's Throughput) and its ratio
to the `ioloop` member of the same group (> 1 means ioloop is faster), as
a markdown table. Reads criterion's own estimates.json files.
"""
import json
import os
import sys

root = sys.argv[1] if len(sys.argv) > 1 else "target/criterion"
groups = {}
for group in sorted(os.listdir(root)):
    gdir = os.path.join(root, group)
    if not os.path.isdir(gdir) or group == "report":
        continue
    for member in sorted(os.listdir(gdir)):
        new = os.path.join(gdir, member, "new")
        try:
            bench = json.load(open(os.path.join(new, "benchmark.json")))
            est = json.load(open(os.path.join(new, "estimates.json")))
        except (OSError, ValueError):
            continue
        median_ns = est["median"]["point_estimate"]
        elements = (bench.get("throughput") or {}).get("Elements")
        groups.setdefault(bench["group_id"], []).append((bench["function_id"], median_ns, elements))


def fmt_time(ns):
    for unit, scale in (("s", 1e9), ("ms", 1e6), ("µs", 1e3)):
        if ns >= scale:
            return f"{ns / scale:.3g} {unit}"
    return f"{ns:.3g} ns"


def fmt_rate(per_s):
    for unit, scale in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if per_s >= scale:
            return f"{per_s / scale:.3g}{unit}/s"
    return f"{per_s:.3g}/s"


print("| group | implementation | median time | throughput | ioloop's advantage |")
print("|---|---|---:|---:|---:|")
for group, members in groups.items():
    ours = next((m for m in members if m[0] == "ioloop"), None)
    for name, ns, elements in members:
        rate = fmt_rate(elements / (ns / 1e9)) if elements else ""
        ratio = f"{ns / ours[1]:.2f}×" if ours and name != "ioloop" else ""
        print(f"| {group} | {name} | {fmt_time(ns)} | {rate} | {ratio} |")
