# The node's live stats region (docs/live-stats.md): it appears under the node's HTTP port with
# the node's pid, shows a known number of requests once they are answered, one record per
# worker process, moves on while the node runs, and is removed when the node stops.
import os
import time

from conftest import MOCK_IDENTITY, MOCK_REVERSE
from livestats import Region, path_for_port
from test_workers_faults import wait_for

REQUESTS = 25


def model(snap, name):
    return next((m for m in snap["models"] if m["name"] == name), None)


def test_region_shows_requests_and_workers(node, model_repo):
    repo = model_repo({"reverse": dict(MOCK_REVERSE, workers={"min": 2, "max": 2}),
                       "identity": MOCK_IDENTITY})
    n = node(repo=repo)
    path = path_for_port(n.port)
    assert n.wait_log("live stats at %s" % path, 10), n.log_text()[-2000:]
    st = os.stat(path)
    assert st.st_mode & 0o777 == 0o644
    r = Region(path)
    try:
        assert r.pid == n.pid and r.port == n.port and r.period_ms == 100
        for i in range(REQUESTS):
            status, _ = n.infer("reverse", [{"name": "INPUT0", "datatype": "BYTES",
                                             "shape": [1, 1], "data": ["abc%d" % i]}])
            assert status == 200
        snap = wait_for(lambda: (lambda s: model(s, "reverse")["requests_ok"] >= REQUESTS
                                 and s)(r.snapshot()), 10, "the region to show the requests")
        rev = model(snap, "reverse")
        assert rev["requests_ok"] == REQUESTS
        assert rev["requests_failed"] == 0 and rev["ready"] == 1
        assert rev["batch_rows"] == REQUESTS and rev["batches"] >= 1
        assert rev["workers_min"] == 2 and rev["arena_size"] > 0
        assert model(snap, "identity")["requests_ok"] == 0
        # one record per worker process, with the node's children as pids
        snap = wait_for(lambda: (lambda s: len(s["workers"]) == 3 and
                                 all(w["state"] in (2, 3) for w in s["workers"]) and s)(
                                     r.snapshot()), 15, "three live workers in the region")
        assert sorted(w["pid"] for w in snap["workers"]) == sorted(n.worker_pids())
        names = [m["name"] for m in snap["models"]]
        assert sorted(names[w["model"]] for w in snap["workers"]) == \
            ["identity", "reverse", "reverse"]
        assert all(0 <= w["heartbeat_age_ns"] < 5e9 for w in snap["workers"])
        # it keeps publishing
        first = snap["header"]["publishes"]
        wait_for(lambda: r.snapshot()["header"]["publishes"] > first + 2, 10, "more publishes")
        assert abs(r.snapshot()["header"]["published_mono_ns"] - time.monotonic_ns()) < 5e9
    finally:
        r.close()
    n.stop()
    assert not os.path.exists(path)
