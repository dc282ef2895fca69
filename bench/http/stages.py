#!/usr/bin/env python3
"""Per-stage request trace of one benchmark run (docs/metrics.md, "Request stages"): reads the
node's inferd_request_stage_duration_seconds histograms from /metrics.
  stages.py HOST PORT save FILE   keep the current buckets in FILE
  stages.py HOST PORT diff FILE   print count, p50, p90, p99 per stage of what came since FILE
Percentiles are estimated as Prometheus' histogram_quantile does (linear within a bucket).
Prints nothing when the node has no trace (an older build)."""
import json
import re
import sys
import urllib.request

FAMILY = "inferd_request_stage_duration_seconds_bucket"
LINE = re.compile(FAMILY + r'\{stage="([a-z]+)",le="([^"]+)"\} ([0-9.e+]+)')


def read(host, port):
    text = urllib.request.urlopen(f"http://{host}:{port}/metrics", timeout=10).read().decode()
    out = {}
    for m in LINE.finditer(text):
        out.setdefault(m.group(1), []).append((m.group(2), float(m.group(3))))
    return out


def quantile(buckets, q):
    """buckets: [(le, cumulative count)] ascending, the last +Inf."""
    total = buckets[-1][1]
    if total <= 0:
        return 0.0
    rank = q * total
    prev_le, prev_c = 0.0, 0.0
    for le, c in buckets:
        if c >= rank:
            if le == "+Inf":
                return prev_le
            le = float(le)
            return prev_le + (le - prev_le) * ((rank - prev_c) / (c - prev_c) if c > prev_c else 0)
        prev_le, prev_c = (float(le) if le != "+Inf" else prev_le), c
    return prev_le


def main():
    host, port, cmd, path = sys.argv[1:5]
    now = read(host, port)
    if not now:
        return
    if cmd == "save":
        with open(path, "w") as f:
            json.dump(now, f)
        return
    with open(path) as f:
        before = json.load(f)
    cells = []
    for stage, buckets in now.items():
        old = dict((le, c) for le, c in before.get(stage, []))
        diff = [(le, c - old.get(le, 0.0)) for le, c in buckets]
        us = [quantile(diff, q) * 1e6 for q in (0.5, 0.9, 0.99)]
        cells.append(f"{stage} n={int(diff[-1][1])} p50={us[0]:.0f} p90={us[1]:.0f} p99={us[2]:.0f}")
    print("  stages (us): " + "; ".join(cells))


if __name__ == "__main__":
    main()
