#!/usr/bin/env python3
"""The server's own overhead between two /metrics snapshots.

Usage: overhead.py BEFORE AFTER  -> prints JSON {"count", "p50_ms", "p90_ms", "p99_ms", "mean_ms"}

Reads `llmroute_overhead_seconds` (total request time minus upstream time) from two
Prometheus text snapshots, subtracts the bucket counts, and estimates quantiles the
way PromQL's histogram_quantile does (linear within a bucket). The buckets double from
10 µs, so a quantile is only as precise as its bucket.
"""
import json
import re
import sys

NAME = "llmroute_overhead_seconds"
BUCKET = re.compile(NAME + r'_bucket\{le="([^"]+)"\} (\S+)')


def read(path):
    buckets, total, count = {}, 0.0, 0.0
    with open(path) as f:
        for line in f:
            m = BUCKET.match(line)
            if m:
                le = float("inf") if m.group(1) == "+Inf" else float(m.group(1))
                buckets[le] = float(m.group(2))
            elif line.startswith(NAME + "_sum "):
                total = float(line.split()[1])
            elif line.startswith(NAME + "_count "):
                count = float(line.split()[1])
    return buckets, total, count


def quantile(q, bounds, counts):
    n = counts[-1]
    if n <= 0:
        return None
    rank = q * n
    prev_bound, prev_count = 0.0, 0.0
    for bound, c in zip(bounds, counts):
        if c >= rank:
            if bound == float("inf"):
                return prev_bound
            span = c - prev_count
            frac = (rank - prev_count) / span if span > 0 else 1.0
            return prev_bound + (bound - prev_bound) * frac
        prev_bound, prev_count = bound, c
    return prev_bound


def main():
    b0, s0, c0 = read(sys.argv[1])
    b1, s1, c1 = read(sys.argv[2])
    bounds = sorted(b1)
    counts = [b1[b] - b0.get(b, 0.0) for b in bounds]
    n = c1 - c0
    out = {"count": int(n)}
    for q, key in ((0.5, "p50_ms"), (0.9, "p90_ms"), (0.99, "p99_ms")):
        v = quantile(q, bounds, counts) if bounds else None
        out[key] = None if v is None else round(v * 1000, 4)
    out["mean_ms"] = round((s1 - s0) / n * 1000, 4) if n > 0 else None
    print(json.dumps(out))


if __name__ == "__main__":
    main()
