#!/usr/bin/env python3
"""Time to first content chunk and to the end of a streamed chat completion.

Usage: stream_timing.py HOST PORT PATH AUTH_HEADER BODY N LABEL OUT

Opens one keep-alive HTTP/1.1 connection, sends N streaming requests one after the
other (after 5 warm-up requests), and for each records, from the moment the request
was written: TTFB, when the first event with a `"delta"` arrived (the first chunk a
caller can show; the upstream's annotation chunk does not count), and TTLB, when
`data: [DONE]` arrived. Appends one JSON line with quantiles (ms) to OUT.
"""
import json
import socket
import sys
import time


# A stalled server costs at most this per read; the request then counts as an error.
READ_TIMEOUT = 30


def quantile(values, q):
    s = sorted(values)
    if not s:
        return 0.0
    k = (len(s) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (k - lo)


def read_response(sock, started):
    """Reads one chunked response; returns (ttfb, ttlb) in seconds."""
    buf = b""
    ttfb = None
    # Headers.
    while b"\r\n\r\n" not in buf:
        data = sock.recv(65536)
        if not data:
            raise RuntimeError("connection closed before the headers")
        buf += data
    head, _, body = buf.partition(b"\r\n\r\n")
    status = head.split(b"\r\n", 1)[0]
    if b" 200" not in status:
        raise RuntimeError(f"status {status!r}: {body[:300]!r}")
    length = None
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    if b'"delta"' in body:
        ttfb = time.perf_counter() - started

    def complete():
        if length is not None:
            return len(body) >= length
        return b"[DONE]" in body and body.endswith(b"0\r\n\r\n")

    # Body: Content-Length bytes, or chunks until the zero-length one after [DONE].
    while not complete():
        data = sock.recv(65536)
        if not data:
            break
        body += data
        if ttfb is None and b'"delta"' in data:
            ttfb = time.perf_counter() - started
    ttlb = time.perf_counter() - started
    if b"[DONE]" not in body:
        raise RuntimeError("stream ended without [DONE]")
    return ttfb if ttfb is not None else ttlb, ttlb


def main():
    host, port, path, auth, body, n, label, out = sys.argv[1:9]
    n = int(n)
    payload = body.encode()
    request = (
        f"POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\n{auth}\r\n"
        f"Content-Type: application/json\r\nAccept: text/event-stream\r\n"
        f"Content-Length: {len(payload)}\r\n\r\n"
    ).encode() + payload
    sock = socket.create_connection((host, int(port)), timeout=READ_TIMEOUT)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    firsts, lasts, errors = [], [], 0
    for i in range(n + 5):
        started = time.perf_counter()
        try:
            sock.sendall(request)
            ttfb, ttlb = read_response(sock, started)
        except Exception as e:  # noqa: BLE001 - counted and reported
            errors += 1
            print(f"stream_timing {label}: {e}", file=sys.stderr)
            sock.close()
            sock = socket.create_connection((host, int(port)), timeout=READ_TIMEOUT)
            continue
        if i >= 5:
            firsts.append(ttfb * 1000)
            lasts.append(ttlb * 1000)
    sock.close()
    line = {"label": label, "requests": len(firsts), "errors": errors}
    for name, values in (("ttfb", firsts), ("ttlb", lasts)):
        for q, key in ((0.5, "p50"), (0.9, "p90"), (0.99, "p99"), (0.999, "p999")):
            line[f"{name}_{key}_ms"] = round(quantile(values, q), 4)
    with open(out, "a") as f:
        f.write(json.dumps(line) + "\n")
    print(json.dumps(line))


if __name__ == "__main__":
    main()
