# Gateway membership changes: a rolling restart under load (zero failures), a node scaled in by
# DNS while requests are in flight (zero failures, then no traffic to it), and key movement on
# scale-out (at most 1/N + 5% of keys move, and only to the new node).
import time

import pytest

import bed as bedlib
import scenario
from load import Load
from scenario import up_with_gateway, served_count, via_gateway, until

pytestmark = pytest.mark.skipif(not scenario.have_gateway(),
                                reason="inferd-gateway is not built")


def assert_no_failures(load):
    errs = load.errors()
    assert load.results
    assert not errs, "%d of %d failed: %s" % (len(errs), len(load.results),
                                             sorted(set(e.error for e in errs))[:5])


def test_rolling_restart_has_zero_failures(cluster):
    b = up_with_gateway(cluster)
    load = Load(b, b.gw_ip, bedlib.GATEWAY_PORT, conns=8, max_requests=100000,
                max_seconds=120).start()
    until(load.t0 + 1.0)
    for n in b.nodes:
        assert n.proc.stop() == 0  # SIGTERM: the node drains, turns not-ready, exits
        n.start(wait=True)
        # the restarted node takes traffic again before the next one goes
        before = served_count(b, n)
        deadline = time.monotonic() + 30
        while served_count(b, n) == before and time.monotonic() < deadline:
            time.sleep(0.1)
        assert served_count(b, n) > before, "node %d got no traffic after restart" % n.index
    load.stop()
    load.check_exactly_once()
    assert_no_failures(load)


def test_dns_scale_in_with_requests_in_flight(cluster):
    b = up_with_gateway(cluster)
    gone = b.nodes[2]
    load = Load(b, b.gw_ip, bedlib.GATEWAY_PORT, conns=8, max_requests=100000,
                max_seconds=60).start()
    until(load.t0 + 1.0)
    b.set_service([n.ip for n in b.nodes[:2]])
    # the gateway re-resolves within a few seconds and stops sending to the node: its count
    # stays still for a second (bounded wait)
    deadline = time.monotonic() + 30
    last, still_since = served_count(b, gone), time.monotonic()
    while time.monotonic() < deadline and time.monotonic() - still_since < 1.5:
        time.sleep(0.1)
        now = served_count(b, gone)
        if now != last:
            last, still_since = now, time.monotonic()
    assert time.monotonic() - still_since >= 1.5, "the scaled-in node still gets traffic"
    assert gone.proc.stop() == 0  # then it goes away, as Kubernetes would stop the pod
    until(time.monotonic() + 1.0)
    load.stop()
    load.check_exactly_once()
    assert_no_failures(load)


def key_owners(b, keys, nodes):
    """Which node serves each key (sent one at a time; the served counters tell)."""
    owners = {}
    counts = {n.index: served_count(b, n) for n in nodes}
    for k in keys:
        status, ok = via_gateway(b, "key " + k, headers={"Inferd-Routing-Key": k})
        assert status == 200 and ok
        now = {n.index: served_count(b, n) for n in nodes}
        moved = [i for i in now if now[i] > counts[i]]
        counts = now
        owners[k] = moved[0] if len(moved) == 1 else None  # None: hedged, ambiguous
    return owners


def test_key_movement_on_scale_out(cluster):
    b = cluster(4)
    b.set_service([n.ip for n in b.nodes[:3]])
    b.start_gateway()
    assert scenario.wait_all_nodes_used(b, b.nodes[:3])
    keys = ["key-%d" % i for i in range(200)]
    before = key_owners(b, keys, b.nodes)
    assert 3 not in before.values()
    b.set_service([n.ip for n in b.nodes])
    assert scenario.wait_all_nodes_used(b, b.nodes), "the gateway never used the new node"
    after = key_owners(b, keys, b.nodes)
    known = [k for k in keys if before[k] is not None and after[k] is not None]
    assert len(known) >= 180
    moved = [k for k in known if before[k] != after[k]]
    assert len(moved) / len(known) <= 1 / 4 + 0.05, (len(moved), len(known))
    assert all(after[k] == 3 for k in moved), "keys moved between old nodes"
