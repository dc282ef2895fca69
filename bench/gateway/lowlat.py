#!/usr/bin/python3
# Low-concurrency latency of proxies next to a direct node, robust on a shared machine: one
# keep-alive connection per target per client, requests sent one at a time and interleaved
# target by target (round r: direct, gateway, haproxy, then round r+1...), so every target
# sees the same machine load. Prints per target p50/p90/p99 and, per proxy, the median of the
# per-round differences to the first target (the added latency) and its p50 difference.
# Usage: lowlat.py --path P --body B [--rounds N] [--clients C] NAME=HOST:PORT ...
import argparse
import multiprocessing
import socket
import statistics
import time


def connect(hostport):
    host, port = hostport.rsplit(":", 1)
    s = socket.create_connection((host, int(port)), timeout=30)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def exchange(s, req, buf):
    """Sends req, reads one whole response (Content-Length framed); returns (status, rest)."""
    s.sendall(req)
    while b"\r\n\r\n" not in buf:
        more = s.recv(65536)
        if not more:
            raise OSError("connection closed")
        buf += more
    head, rest = buf.split(b"\r\n\r\n", 1)
    n = 0
    for line in head.split(b"\r\n")[1:]:
        k, _, v = line.partition(b":")
        if k.strip().lower() == b"content-length":
            n = int(v)
    while len(rest) < n:
        more = s.recv(65536)
        if not more:
            raise OSError("connection closed in a body")
        rest += more
    return int(head.split()[1]), rest[n:]


def client(args):
    targets, path, body, rounds, seed = args
    socks = [connect(t) for _, t in targets]
    bufs = [b""] * len(targets)
    times = [[] for _ in targets]
    bad = 0
    for r in range(rounds):
        for i, s in enumerate(socks):
            req = (b"POST %s HTTP/1.1\r\nHost: b\r\nContent-Type: application/json\r\n"
                   b"Inferd-Routing-Key: k%d-%d\r\nContent-Length: %d\r\n\r\n"
                   % (path.encode(), seed, r, len(body))) + body
            t0 = time.perf_counter_ns()
            status, bufs[i] = exchange(s, req, bufs[i])
            times[i].append((time.perf_counter_ns() - t0) / 1000.0)
            bad += status // 100 != 2
    for s in socks:
        s.close()
    return times, bad


def pct(v, p):
    v = sorted(v)
    return v[min(len(v) - 1, int(len(v) * p))]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--path", required=True)
    ap.add_argument("--body", required=True)
    ap.add_argument("--rounds", type=int, default=3000)
    ap.add_argument("--clients", type=int, default=1)
    ap.add_argument("--warmup", type=int, default=200)
    ap.add_argument("targets", nargs="+")
    a = ap.parse_args()
    targets = [t.split("=", 1) for t in a.targets]
    body = a.body.encode()
    client((targets, a.path, body, a.warmup, 0))  # connections and caches warm
    with multiprocessing.Pool(a.clients) as pool:
        res = pool.map(client, [(targets, a.path, body, a.rounds, c + 1)
                                for c in range(a.clients)])
    times = [sum((r[0][i] for r in res), []) for i in range(len(targets))]
    bad = sum(r[1] for r in res)
    for (name, _), t in zip(targets, times):
        print("  %-10s n=%d p50=%.0fus p90=%.0fus p99=%.0fus"
              % (name, len(t), pct(t, 0.5), pct(t, 0.9), pct(t, 0.99)))
    base = times[0]
    for (name, _), t in list(zip(targets, times))[1:]:
        paired = statistics.median(x - y for x, y in zip(t, base))
        print("  %s added: p50 difference %.0f us, median per-round difference %.0f us"
              % (name, pct(t, 0.5) - pct(base, 0.5), paired))
    if bad:
        print("  non-2xx answers: %d" % bad)


if __name__ == "__main__":
    main()
