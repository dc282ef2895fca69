# Shared steps of the gateway scenarios (tests and bench/cluster/run): a bed with a gateway
# found by DNS, a fault applied for a while under load, and the figures of the run.
import json
import os
import signal
import time

import bed as bedlib
from load import Load, summary

GATEWAY_EXE = os.path.join(bedlib.BIN_DIR, "inferd-gateway")


def have_gateway():
    return os.access(GATEWAY_EXE, os.X_OK)


def gateway_nodes(b):
    """GET /gateway/nodes as a list of dicts, or None when the gateway does not serve it."""
    try:
        status, _, body = b.request(b.gw_ip, bedlib.GATEWAY_PORT, "GET", "/gateway/nodes",
                                    timeout=2.0)
        if status != 200:
            return None
        doc = json.loads(body)
    except (OSError, ValueError):
        return None
    if isinstance(doc, dict):
        doc = doc.get("nodes", [])
    return doc if isinstance(doc, list) else None


def node_entry(entries, node):
    for e in entries or []:
        if node.ip in json.dumps(e):
            return e
    return None


def via_gateway(b, msg, headers=None, timeout=5.0):
    status, _, body = b.request(b.gw_ip, bedlib.GATEWAY_PORT, "POST", "/process",
                                bedlib.process_body(msg), headers=headers, timeout=timeout)
    ok = status == 200 and json.loads(body).get("result") == bedlib.expected_result(msg)
    return status, ok


def served_count(b, node):
    """Requests the node's reverse model answered (its statistics)."""
    status, _, body = b.request(node.ip, bedlib.NODE_PORT, "GET",
                                "/v2/models/reverse/stats", timeout=5.0)
    assert status == 200, body
    return json.loads(body)["model_stats"][0]["inference_stats"]["success"]["count"]


def wait_all_nodes_used(b, nodes, timeout=30.0):
    """Sends keyed requests through the gateway until every node in nodes has served one
    (bounded): the gateway has discovered them all and finds them healthy."""
    before = {n.index: served_count(b, n) for n in nodes}
    deadline = time.monotonic() + timeout
    i = 0
    while time.monotonic() < deadline:
        for _ in range(len(nodes) * 4):
            i += 1
            try:
                via_gateway(b, "warm %d" % i, headers={"Inferd-Routing-Key": "warm-%d" % i})
            except OSError:
                time.sleep(0.05)
        if all(served_count(b, n) > before[n.index] for n in nodes):
            return True
    return False


def up_with_gateway(cluster, n=3, gateway_args=None):
    b = cluster(n)
    b.start_gateway(gateway_args)
    assert wait_all_nodes_used(b, b.nodes), \
        "the gateway did not route to every node:\n" + b.gateway.log_text()[-3000:]
    return b


def until(t):
    """Waits until monotonic time t (pacing a scenario's timeline, not synchronisation)."""
    left = t - time.monotonic()
    if left > 0:
        time.sleep(left)


def run_fault(b, apply, clear, conns=8, before_s=1.5, fault_s=3.0, after_s=2.0,
              max_requests=40000, headers=None):
    """Load through the gateway; apply() at before_s, clear() fault_s later, load on for
    after_s more. Returns (load, t_fault)."""
    load = Load(b, b.gw_ip, bedlib.GATEWAY_PORT, conns=conns, max_requests=max_requests,
                max_seconds=before_s + fault_s + after_s, headers=headers).start()
    until(load.t0 + before_s)
    t_fault = time.monotonic()
    handle = apply(b)
    until(t_fault + fault_s)
    if clear is not None:
        clear(b, handle)
    until(load.t0 + before_s + fault_s + after_s)
    load.stop()
    load.check_exactly_once()
    return load, t_fault


# ---- the faults, as apply/clear pairs on node 1 --------------------------------------------
def kill9(b):
    os.kill(b.nodes[1].pid, signal.SIGKILL)


def sigstop(b):
    return b.fault("stop", str(b.nodes[1].pid))


def slow(b):
    return b.fault("slow", str(b.nodes[1].pid))


def loss5(b):
    return b.fault("--netns", b.nodes[1].ns, "--iface", "eth0", "loss", "5")


def latency(b, ms=50):
    return b.fault("--netns", b.nodes[1].ns, "--iface", "eth0", "delay", str(ms))


def partition(b):
    return b.fault("--netns", b.nodes[1].ns, "--iface", "eth0", "partition")


def clear(b, handle):
    b.clear_fault(handle)


SCENARIOS = {
    "kill -9 one node": (kill9, None),
    "SIGSTOP one node": (sigstop, clear),
    "slow node (100 ms stop/cont)": (slow, clear),
    "5% loss on one link": (loss5, clear),
    "50 ms added latency on one link": (latency, clear),
    "partition of one node": (partition, clear),
}


def figures(load, t_fault):
    s = summary(load, t_fault)
    s["p99_before_ms"] = _p(load.latencies(until=t_fault), 99)
    s["p99_during_ms"] = _p(load.latencies(since=t_fault), 99)
    return s


def _p(lat, q):
    from load import percentile
    return percentile(lat, q) * 1e3
