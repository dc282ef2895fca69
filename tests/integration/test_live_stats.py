# The node's live stats region (docs/live-stats.md): it appears under the node's HTTP port with
# the node's pid, shows a known number of requests once they are answered, one record per
# worker process, moves on while the node runs, and is removed when the node stops; two nodes
# on one port in two network namespaces each keep their own.
import os
import signal
import subprocess
import time

import pytest

from conftest import MOCK_IDENTITY, MOCK_REVERSE, bin_path, free_port
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


def _netns(*args):
    subprocess.run(["ip"] + list(args), check=True, capture_output=True, timeout=10)


@pytest.mark.skipif(os.geteuid() != 0, reason="network namespaces need root")
def test_nodes_on_one_port_in_two_namespaces_keep_their_own_regions(model_repo, tmp_path):
    # /dev/shm is shared by network namespaces: with the port alone in the name, two nodes on
    # one port in two namespaces (the cluster bed) replaced each other's region.
    repo = model_repo({"identity": MOCK_IDENTITY})
    port = free_port()
    names = ["inferd-lt-%d-%s" % (os.getpid(), k) for k in "ab"]
    procs, paths = [], []
    try:
        for ns in names:
            _netns("netns", "add", ns)
            _netns("-n", ns, "link", "set", "lo", "up")
            paths.append(path_for_port(port, os.stat("/run/netns/" + ns).st_ino))
            log = open(tmp_path / (ns + ".log"), "wb")
            # ip netns exec execs the node: the child's pid is the node's
            procs.append(subprocess.Popen(
                ["ip", "netns", "exec", ns, bin_path("inferd"), "--host", "127.0.0.1",
                 "--http-port", str(port), "--grpc-port", "0", "--drain-delay-ms", "0",
                 "--model-repository", repo], stdout=log, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL, start_new_session=True))
        assert paths[0] != paths[1]
        for p, path in zip(procs, paths):
            def region_of_node(p=p, path=path):
                assert p.poll() is None, "a node exited"
                try:
                    r = Region(path)
                except (OSError, ValueError):
                    return None
                ok = r.pid == p.pid and r.port == port
                r.close()
                return ok
            wait_for(region_of_node, 15, "each node's own region at %s" % path)
        assert not os.path.exists(path_for_port(port))  # nothing under this namespace's name
        # one node stopping removes its own region only
        procs[0].send_signal(signal.SIGTERM)
        procs[0].wait(timeout=15)
        assert not os.path.exists(paths[0])
        r = Region(paths[1])
        assert r.pid == procs[1].pid
        r.close()
    finally:
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
                try:
                    p.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait(timeout=15)
        for path in paths:  # a node killed leaves its region behind
            if os.path.exists(path):
                os.unlink(path)
        for ns in names:
            subprocess.run(["ip", "netns", "del", ns], capture_output=True, timeout=10)


def test_starting_node_sweeps_regions_of_killed_nodes(node, model_repo):
    """A node killed with SIGKILL cannot unlink its region; the next node to start removes it
    (its pid is gone), and leaves alone what is not a dead node's region."""
    repo = model_repo({"identity": MOCK_IDENTITY})
    a = node(repo=repo)
    path_a = path_for_port(a.port)
    assert a.wait_log("live stats at %s" % path_a, 10)
    os.kill(a.pid, signal.SIGKILL)
    a.proc.wait(timeout=10)
    # (its file stays behind: no assertion here, as any node another test starts meanwhile may
    # already sweep it)
    junk = "/dev/shm/inferd-live-test-junk-%d" % os.getpid()  # not a region: kept
    with open(junk, "wb") as f:
        f.write(b"not a region")
    try:
        b = node(repo=repo)
        assert b.wait_log("live stats at %s" % path_for_port(b.port), 10)
        assert not os.path.exists(path_a)
        assert os.path.exists(junk)
    finally:
        os.unlink(junk)
