#!/usr/bin/env python3
"""Turns a run's results.jsonl into the markdown tables of bench/results/latest.md.

Usage: table.py RESULTS.jsonl

Record kinds (one JSON object a line, written by scripts/bench):
  load      {"kind","scenario","target","conc","rps","p50_ms",...,"errors","cpu_ms_per_req",
             "overhead": {"p50_ms","p99_ms",...} | null}
  open      like load, from bench/loadgen at a fixed "rate" over "conc" connections, plus
            "late" (requests whose slot passed while their connection still waited)
  stream    {"kind","scenario","target","ttfb_p50_ms",...,"ttlb_p99_ms",...,"errors"}
  resources {"kind","target","name","rss_idle_mib","rss_peak_mib","ready_ms"}
  note      {"kind","text"}
Load and open records also carry "steal_pct": the share of the machine's CPU time the
hypervisor gave to other guests during the run (from /proc/stat), shown as "steal %".
Ratios and "added" latencies are against the record of target `direct` with the same
concurrency and the same "body" ("short", or "long": the 20 KB conversation) (load) or the same scenario suffix (stream), from the same run.
"""
import json
import sys


def fmt(v, digits=3):
    if v is None:
        return "n/a"
    if isinstance(v, str):
        return v
    if abs(v) >= 1000:
        return f"{v:,.0f}"
    if abs(v) >= 100:
        return f"{v:.1f}"
    return f"{v:.{digits}f}"


def steal_text(r):
    """The steal % column: how much of the run the host took away, or n/a."""
    return fmt(r.get("steal_pct"), 1)


def overhead_text(r):
    """The server overhead column: p50 / p99 of llmroute's own histogram, or a dash."""
    ov = r.get("overhead") or {}
    return "—" if not ov else f"{fmt(ov.get('p50_ms'))} / {fmt(ov.get('p99_ms'))}"


def open_table(opens):
    """The open-loop rows: latency at a fixed rate, added against the direct row."""
    base = next((r for r in opens if r["target"] == "direct"), None)
    out = [
        "",
        f"Open loop: {opens[0].get('conc')} connections sending at a fixed "
        f"{opens[0].get('rate', 0):,} req/s in all (bench/loadgen), so latencies are a request's "
        "own cost, not queueing:",
        "",
        "| scenario | req/s | p50 ms | p90 ms | p99 ms | p99.9 ms | added p50 ms | added p99 ms "
        "| errors | late | CPU ms/req | server overhead p50 / p99 ms | steal % |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in opens:
        if not r.get("requests"):
            out.append(f"| {r['scenario']} | 0 | — | — | — | — | — | — | {r.get('errors')} | — | — | — | {steal_text(r)} |")
            continue
        is_base = r is base
        added = lambda k: "—" if is_base or base is None else fmt(r[k] - base[k])
        ovtext = overhead_text(r)
        out.append(
            f"| {r['scenario']} | {fmt(r.get('rps'), 0)} | {fmt(r['p50_ms'])} | {fmt(r['p90_ms'])} | "
            f"{fmt(r['p99_ms'])} | {fmt(r['p999_ms'])} | {added('p50_ms')} | {added('p99_ms')} | "
            f"{r.get('errors')} | {r.get('late')} | {fmt(r.get('cpu_ms_per_req'), 4)} | {ovtext} | {steal_text(r)} |"
        )
    return out


def main():
    records = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
    loads = [r for r in records if r["kind"] == "load"]
    streams = [r for r in records if r["kind"] == "stream"]
    opens = [r for r in records if r["kind"] == "open"]
    resources = [r for r in records if r["kind"] == "resources"]
    notes = [r for r in records if r["kind"] == "note"]
    # The baseline of a row: direct, same concurrency, same body (short unless "long").
    direct = {(r["conc"], r.get("body", "short")): r for r in loads if r["target"] == "direct"}
    direct_stream = {r["variant"]: r for r in streams if r["target"] == "direct"}

    out = []
    out.append(
        "| scenario | conc | req/s | × direct | p50 ms | p90 ms | p99 ms | p99.9 ms "
        "| added p50 ms | added p99 ms | errors | CPU ms/req | server overhead p50 / p99 ms | steal % |"
    )
    out.append("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for r in loads:
        if r.get("requests") == 0:
            # Nothing finished within the run (wrk counts only finished requests, and its
            # 10 s timeout is longer than a run): no latency or CPU figure exists.
            out.append(
                f"| {r['scenario']} | {r['conc']} | 0 | 0.00 | — | — | — | — | — | — | "
                f"none finished in {fmt(r.get('seconds'), 1)} s ({r['conc']} waiting) | — | — | {steal_text(r)} |"
            )
            continue
        base = direct.get((r["conc"], r.get("body", "short")))
        is_base = r["target"] == "direct"
        ratio = None if base is None or r.get("rps") is None else r["rps"] / base["rps"]
        add50 = None if base is None or is_base or r.get("p50_ms") is None else r["p50_ms"] - base["p50_ms"]
        add99 = None if base is None or is_base or r.get("p99_ms") is None else r["p99_ms"] - base["p99_ms"]
        ovtext = overhead_text(r)
        out.append(
            f"| {r['scenario']} | {r['conc']} | {fmt(r.get('rps'), 0)} | "
            f"{'1.00' if is_base else fmt(ratio, 2)} | {fmt(r.get('p50_ms'))} | {fmt(r.get('p90_ms'))} | "
            f"{fmt(r.get('p99_ms'))} | {fmt(r.get('p999_ms'))} | "
            f"{'—' if is_base else fmt(add50)} | {'—' if is_base else fmt(add99)} | "
            f"{r.get('errors', 'n/a')} | {fmt(r.get('cpu_ms_per_req'), 4)} | {ovtext} | {steal_text(r)} |"
        )
    for r in streams:
        base = direct_stream.get(r["variant"])
        is_base = r["target"] == "direct"
        for what, name in (("ttfb", "time to first chunk"), ("ttlb", "time to last byte")):
            add50 = None if base is None or is_base else r[f"{what}_p50_ms"] - base[f"{what}_p50_ms"]
            add99 = None if base is None or is_base else r[f"{what}_p99_ms"] - base[f"{what}_p99_ms"]
            out.append(
                f"| {r['scenario']}: {name} | 1 | | | {fmt(r[f'{what}_p50_ms'])} | {fmt(r[f'{what}_p90_ms'])} | "
                f"{fmt(r[f'{what}_p99_ms'])} | {fmt(r[f'{what}_p999_ms'])} | "
                f"{'—' if is_base else fmt(add50)} | {'—' if is_base else fmt(add99)} | {r['errors']} | | | |"
            )
    if opens:
        out.extend(open_table(opens))
    if resources:
        out.append("")
        out.append("| server | RSS idle MiB | RSS peak MiB (after c=256) | start-up to passing /health ms |")
        out.append("| --- | ---: | ---: | ---: |")
        for r in resources:
            out.append(
                f"| {r['name']} | {fmt(r.get('rss_idle_mib'), 1)} | {fmt(r.get('rss_peak_mib'), 1)} | {fmt(r.get('ready_ms'), 1)} |"
            )
    if notes:
        out.append("")
        for n in notes:
            out.append(f"- {n['text']}")
    print("\n".join(out))


if __name__ == "__main__":
    main()
