# GET /metrics on inferd-gateway: valid for promtool and for our stricter reader (promtext.py),
# and exact: after a known number of requests through two real nodes the per-node and
# gateway-wide counts match, retries land on the node that took them, requests no node can
# take count as no_node, bad ones as 4xx, and a killed node shows as not ready and open.
import signal

import promtext
from test_gateway_proxy import addr, fakes, gateway, process  # noqa: F401 (fixtures)
from test_metrics import wait_for


def outcome(fam, name):
    return promtext.value(fam, "inferd_gateway_requests_total", outcome=name)


def test_gateway_metrics_valid_and_count(node, gateway):
    n1, n2 = node(), node()
    gw = gateway([addr(n1), addr(n2)])
    gw.wait_nodes(lambda ns: all(x["ready"] and x["models"] for x in ns))
    for i in range(30):
        assert process(gw, "m%d" % i)[0] == 200
    # a model no node serves: a node's own 404
    assert gw.request("POST", "/v2/models/nope/infer", body="{}")[0] == 404
    # a malformed deadline: 400 from the gateway
    assert process(gw, "x", headers={"Inferd-Timeout-Ms": "soon"})[0] == 400
    text = promtext.scrape(gw)
    promtext.promtool_check(text)
    fam = promtext.parse(text)
    assert outcome(fam, "2xx") == 30
    assert outcome(fam, "4xx") == 2
    for o in ("5xx", "no_node", "deadline", "upstream", "client_gone"):
        assert outcome(fam, o) == 0, o
    routed = [promtext.value(fam, "inferd_gateway_node_requests_total", node=addr(n))
              for n in (n1, n2)]
    assert sum(routed) == 31 and min(routed) > 0  # keys spread over both nodes
    for n in (n1, n2):
        v = lambda name, **l: promtext.value(fam, name, node=addr(n), **l)
        assert v("inferd_gateway_node_in_flight") == 0
        assert v("inferd_gateway_node_failures_total") == 0
        assert v("inferd_gateway_node_retries_total") == 0
        assert v("inferd_gateway_node_hedges_won_total") <= v("inferd_gateway_node_hedges_total")
        assert v("inferd_gateway_node_ejections_total") == 0
        assert v("inferd_gateway_node_ready") == 1 and v("inferd_gateway_node_present") == 1
        assert v("inferd_gateway_node_breaker_state", state="closed") == 1
        assert v("inferd_gateway_node_breaker_state", state="open") == 0
        assert v("inferd_gateway_node_breaker_state", state="half_open") == 0
        assert v("inferd_gateway_node_latency_p99_seconds") >= \
            v("inferd_gateway_node_latency_p50_seconds") >= 0
    assert promtext.value(fam, "inferd_gateway_retry_budget_refusals_total") == 0
    assert promtext.value(fam, "inferd_gateway_retries_in_flight") == 0
    assert promtext.value(fam, "inferd_gateway_hedge_tokens") >= 0
    assert promtext.value(fam, "inferd_connections", protocol="http") >= 1  # this scrape
    assert promtext.value(fam, "inferd_connections_accepted_total", protocol="http") >= 33
    for name in ("process_cpu_seconds_total", "process_resident_memory_bytes",
                 "process_open_fds", "process_start_time_seconds"):
        assert promtext.value(fam, name) > 0, name
    # the gateway's own routes are not forwarded requests
    fam = promtext.parse(promtext.scrape(gw))
    assert outcome(fam, "2xx") == 30


def test_retries_counted_on_the_node_that_took_them(node, gateway, fakes):
    real = node()
    busy = fakes(status=503, body=b'{"error": "busy"}')
    gw = gateway([addr(real), busy.address], args=["--hedge-percent", "0"])
    gw.wait_nodes(lambda ns: all(x["ready"] and x["models"] for x in ns))
    for i in range(40):
        assert process(gw, "retry %d" % i)[0] == 200
    fam = promtext.parse(promtext.scrape(gw))
    first_on_busy = len(busy.routed())
    assert first_on_busy > 0
    v = lambda name, n: promtext.value(fam, name, node=n)
    # every request that met the busy node first was retried once, on the real node
    assert v("inferd_gateway_node_retries_total", addr(real)) == first_on_busy
    assert v("inferd_gateway_node_retries_total", busy.address) == 0
    assert v("inferd_gateway_node_requests_total", busy.address) == first_on_busy
    assert v("inferd_gateway_node_requests_total", addr(real)) == 40
    # a 503 says busy, not broken
    assert v("inferd_gateway_node_failures_total", busy.address) == 0
    assert v("inferd_gateway_node_hedges_total", addr(real)) == 0
    assert outcome(fam, "2xx") == 40
    # every retry's slot of the budget was given back before its answer was written: a scrape
    # right after the last answer (on any loop thread) sees none held
    assert promtext.value(fam, "inferd_gateway_retries_in_flight") == 0


def test_no_node_counted(gateway, fakes):
    f = fakes(ready=False)
    gw = gateway([f.address], ready=False)
    # until its first check's answer is in, a node is given requests: the second check comes
    # after the first one's answer was taken in
    wait_for(lambda: sum(r[1] == "/v2/health/ready" for r in list(f.requests)) >= 2,
             what="the gateway's second health check")
    gw.wait_nodes(lambda ns: ns and not ns[0]["ready"])
    for i in range(3):
        assert process(gw, "none %d" % i)[0] == 503
    fam = promtext.parse(promtext.scrape(gw))
    assert outcome(fam, "no_node") == 3 and outcome(fam, "2xx") == 0
    assert promtext.value(fam, "inferd_gateway_node_requests_total", node=f.address) == 0
    assert f.routed() == []


def test_killed_node_shows_not_ready_and_open(node, gateway):
    n1, n2 = node(), node()
    gw = gateway([addr(n1), addr(n2)])
    gw.wait_nodes(lambda ns: all(x["ready"] for x in ns))
    n2.stop(sig=signal.SIGKILL)
    gone = addr(n2)
    def open_now():
        fam = promtext.parse(promtext.scrape(gw))
        return fam if promtext.value(fam, "inferd_gateway_node_breaker_state", node=gone,
                                     state="open") == 1 else None

    fam = wait_for(open_now, what="the killed node's breaker to open")
    assert promtext.value(fam, "inferd_gateway_node_ready", node=gone) == 0
    assert promtext.value(fam, "inferd_gateway_node_breaker_state", node=gone,
                          state="closed") == 0
    assert promtext.value(fam, "inferd_gateway_node_ejections_total", node=gone) >= 1
    assert promtext.value(fam, "inferd_gateway_node_ready", node=addr(n1)) == 1
