# Gateway + 3 nodes under load while one node fails: kill -9, SIGSTOP, slow, 5% loss, added
# latency, partition. Every request is checked: it has exactly one result, and a success carries
# its own message's answer. Counts only here; latency figures go to bench/cluster/run.
import time

import pytest

import scenario
from scenario import run_fault, up_with_gateway, node_entry, gateway_nodes, until

pytestmark = pytest.mark.skipif(not scenario.have_gateway(),
                                reason="inferd-gateway is not built")


def assert_few_errors(load, limit_fraction=0.001):
    errs = load.errors()
    total = len(load.results)
    assert total > 0
    assert len(errs) < max(1.0, limit_fraction * total), \
        "%d errors of %d: %s" % (len(errs), total, sorted(set(e.error for e in errs))[:5])
    wrong = [e for e in errs if e.error and e.error.startswith("wrong answer")]
    assert not wrong, "answers crossed between requests: %s" % wrong[:3]


def test_kill9_node_under_load(cluster):
    b = up_with_gateway(cluster)
    seen = {}

    def kill_and_watch(b):
        scenario.kill9(b)
        t = time.monotonic()
        until(t + 1.0)
        seen["at_1s"] = gateway_requests(b, b.nodes[1])
        return t

    load, t_kill = run_fault(b, kill_and_watch, None, fault_s=1.0, after_s=3.0)
    assert_few_errors(load)
    # after 1 s the gateway sends nothing to the dead node: no error from then on, and its
    # request count in /gateway/nodes stands still
    late = load.errors(since=t_kill + 1.0)
    assert not late, late[:3]
    assert gateway_requests(b, b.nodes[1]) == seen["at_1s"]
    entry = node_entry(gateway_nodes(b), b.nodes[1])
    assert entry["breaker"] != "closed" or not entry["ready"], entry


def gateway_requests(b, node):
    entry = node_entry(gateway_nodes(b), node)
    assert entry is not None, "/gateway/nodes does not list %s" % node.ip
    return entry["requests"]


def test_sigstop_node_under_load(cluster):
    b = up_with_gateway(cluster)
    load, t = run_fault(b, scenario.sigstop, scenario.clear)
    assert_few_errors(load)


def test_slow_node_under_load(cluster):
    b = up_with_gateway(cluster)
    load, t = run_fault(b, scenario.slow, scenario.clear)
    assert_few_errors(load)


def test_loss_on_one_link_under_load(cluster):
    b = up_with_gateway(cluster)
    load, t = run_fault(b, scenario.loss5, scenario.clear)
    assert_few_errors(load)


def test_latency_on_one_link_under_load(cluster):
    b = up_with_gateway(cluster)
    load, t = run_fault(b, scenario.latency, scenario.clear)
    assert_few_errors(load)


def test_partition_of_one_node_under_load(cluster):
    b = up_with_gateway(cluster)
    load, t = run_fault(b, scenario.partition, scenario.clear)
    assert_few_errors(load)
