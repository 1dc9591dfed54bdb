#!/usr/bin/env python3
"""Times two loop micro-benchmark implementations in turn, A B A B ...

Usage: [REPEAT=K] python3 benches/scripts/paired.py GROUP IMPL_A IMPL_B [RUNS] [CPUS]

Runs `target/release/micro GROUP IMPL` (build it first with
`cargo build --release -p benches --features peers --bin micro`) RUNS times for each
implementation (default 10), alternating, after one warm-up run of each,
pinned to CPUS (default "0"; the cross-thread group needs "0,1"). For each
run it records the workload's own time (what the binary prints, set-up
excluded) and the whole process's user and system CPU time (from wait4).
Pairing A with the B run next to it keeps the ratio meaningful when a
shared machine's speed drifts: the ratio printed is the median of the
per-pair ratios A/B, beside each side's minimum, median and maximum.

An implementation may be given as BINARY:IMPL to run another build of
`micro`, for example one built from an older commit, against this one:

    cp target/release/micro /tmp/micro-old    # at the older commit
    python3 benches/scripts/paired.py callbacks_chain_2M /tmp/micro-old:ioloop ioloop 20

With REPEAT=K each process runs the workload K times and reports the
median (`micro GROUP IMPL K`): the steady state without one-time set-up
(the blocking watchdog's thread and unwinder warm-up); the process CPU
times then cover all K runs.
"""
import os
import re
import statistics
import subprocess
import sys

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
MICRO = os.path.join(ROOT, "target", "release", "micro")


def run(group, impl, cpus):
    binary, _, impl = impl.rpartition(":")
    binary = binary or MICRO
    cmd = ["taskset", "-c", cpus, binary, group, impl, os.environ.get("REPEAT", "1")]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    out = proc.stdout.read().decode()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        sys.exit(f"{' '.join(cmd)} exited with {proc.returncode}")
    took = float(re.search(r": ([0-9.]+) s,", out).group(1))
    return took, usage.ru_utime, usage.ru_stime


def spread(values):
    return f"{statistics.median(values):.3f} ({min(values):.3f}-{max(values):.3f})"


def main():
    if len(sys.argv) < 4:
        sys.exit(__doc__)
    group, a, b = sys.argv[1:4]
    runs = int(sys.argv[4]) if len(sys.argv) > 4 else 10
    cpus = sys.argv[5] if len(sys.argv) > 5 else "0"
    if ":" not in a + b and not os.access(MICRO, os.X_OK):
        sys.exit(f"{MICRO} is missing: cargo build --release -p benches --features peers --bin micro")
    run(group, a, cpus)
    run(group, b, cpus)
    results = {a: [], b: []}
    for _ in range(runs):
        for impl in (a, b):
            results[impl].append(run(group, impl, cpus))
    repeat = os.environ.get("REPEAT", "1")
    each = f", each process the median of {repeat} runs" if repeat != "1" else ""
    print(f"{group}, {runs} pairs, pinned to CPU {cpus}{each}; seconds median (min-max)")
    print(f"| implementation | workload time | process user CPU | process system CPU |")
    print("|---|---:|---:|---:|")
    for impl in (a, b):
        rows = results[impl]
        print(
            f"| {impl} | {spread([r[0] for r in rows])} | {spread([r[1] for r in rows])} "
            f"| {spread([r[2] for r in rows])} |"
        )
    for label, index in (("workload time", 0), ("user CPU", 1)):
        ratios = [ra[index] / rb[index] for ra, rb in zip(results[a], results[b]) if rb[index] > 0]
        if ratios:
            print(f"{a}/{b} {label}: median of pair ratios {statistics.median(ratios):.3f}")


if __name__ == "__main__":
    main()
