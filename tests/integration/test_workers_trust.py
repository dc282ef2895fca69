# The node never trusts the shared region: a rogue worker (bin/inferd-worker-rogue, selected
# with --worker-path) corrupts one field a worker can write at a time; the node must keep
# serving the other model, answer the affected request (500, or 200 after a replacement),
# log what it found in a few lines, replace the liar and still stop on SIGTERM. Also: a
# worker holds only fds 0-2 and its model's region (and maps no other model's region), every
# node fd is close-on-exec, and a worker exits when its node is killed with SIGKILL, even
# mid-batch.
import os
import signal
import threading

import pytest

from conftest import MOCK_DELAY, MOCK_IDENTITY, bin_path, gone
from test_workers_faults import submitted_requests, wait_for, worker_pids

O_CLOEXEC = 0o2000000
LOG_LIMIT = 256 * 1024       # bytes: a node that logs per loop iteration blows through this

IDENT = dict(MOCK_IDENTITY, max_batch_size=8, hang_timeout_ms=2000,
             workers={"min": 1, "max": 1})
TWO_MODELS = {"victim": IDENT, "bystander": IDENT}


def ident(n, model, timeout=20.0):
    status, body = n.infer(model, [{"name": "INPUT0", "datatype": "FP32", "shape": [1, 2],
                                    "data": [1.5, -2.0]}], timeout=timeout)
    if status == 200:
        assert body["outputs"][0]["data"] == [1.5, -2.0]
    return status


def poke(n, model):
    """Sends one request (any answer will do); returns False so wait_for keeps looking."""
    ident(n, model)
    return False


def quietly(fn, *args):
    try:
        fn(*args)
    except Exception:   # the node is killed under this request: any failure is expected
        pass


# mode -> (what the node's log must show, or None when the corruption is harmless or only the
# request fails; whether the worker must be replaced)
MODES = {
    "ring_cells": ("submission ring inconsistent", True),
    "ring_enqueue": ("submission ring positions or geometry changed", True),
    "ring_dequeue": ("submission ring positions or geometry changed", True),
    "ring_mask": ("submission ring positions or geometry changed", True),
    "completion_head": ("protocol violation: completion ring", True),
    "completion_tail": ("protocol violation: completion ring", True),
    "completion_slot": ("protocol violation: completion ring", True),
    "batch_state": ("protocol violation: returned a batch slot it does not hold", True),
    "batch_status": ("protocol violation: batch status is not a known value", True),
    "request_status": ("protocol violation: request 0: status 99", True),
    "out_offset": ("protocol violation: request 0 output 0: output range", True),
    "out_nbytes": ("protocol violation: request 0 output 0", True),
    "out_dims": ("protocol violation: request 0 output 0: output dims", True),
    "heartbeat_future": ("protocol violation: heartbeat in the future", True),
    "heartbeat_zero": ("protocol violation: heartbeat cleared", True),
    "in_hand": ("protocol violation: in_hand larger than the batch table", True),
    "out_needed": ("output area too small", False),
    "error_text": (None, False),
    "shutdown": ("a worker set the region's shutdown flag; cleared", False),
    "model_names": (None, False),
    "counts": (None, False),
    "worker_state": (None, False),
    "pid": (None, False),
    "ftruncate": ("rogue: ftruncate shrink=Operation not permitted grow=Operation not permitted",
                  False),
    "claim_pos": (None, True),   # dies holding a bogus claim: plain crash recovery
    # Never rings the doorbell again: its answers come from the loops' own looks or the
    # completion thread's backstop (test_doorbell_silent_worker_still_answered).
    "doorbell_silent": (None, False),
    # The flag page cannot be made writable; the flood only costs its loop wake-ups.
    "doorbell_spam": ("rogue: doorbell mmap_write=Operation not permitted "
                      "mprotect_write=Permission denied sent=yes", False),
}


# The same corruptions by a worker that dies right after: plain crash recovery (its batch is
# retried), except for the ring, which stays corrupt after it is gone.
DIE_MODES = {
    "ring_cells": ("submission ring inconsistent", True),
    "completion_head": (None, True),
    "batch_state": (None, True),
    "out_offset": (None, True),
    "heartbeat_future": (None, True),
}
CASES = [(m, "carry on") for m in sorted(MODES) if m != "claim_pos"] + \
        [("claim_pos", "die")] + [(m, "die") for m in sorted(DIE_MODES)]


@pytest.mark.parametrize("mode,then", CASES)
def test_rogue_worker(node, model_repo, tmp_path, monkeypatch, mode, then):
    expect_log, replaced = (MODES if then == "carry on" or mode == "claim_pos"
                            else DIE_MODES)[mode]
    rogue_bin = bin_path("inferd-worker-rogue")
    assert os.access(rogue_bin, os.X_OK), "%s is not built (cmake --build: all targets)" % rogue_bin
    monkeypatch.setenv("INFERD_ROGUE", mode)
    monkeypatch.setenv("INFERD_ROGUE_MODEL", "victim")
    monkeypatch.setenv("INFERD_ROGUE_ONCE", str(tmp_path / "rogue-acted"))
    if then == "die":
        monkeypatch.setenv("INFERD_ROGUE_THEN", "die")
    n = node(repo=model_repo(TWO_MODELS),
             args=["--worker-path", bin_path("inferd-worker-rogue"), "--log-level", "info"])
    rogue = wait_for(lambda: len(worker_pids(n)) == 2 and worker_pids(n), 10, "2 workers")
    assert ident(n, "bystander") == 200
    # The affected request: answered either way, never hung.
    first = ident(n, "victim")
    assert first in (200, 500), first
    assert n.wait_log("rogue: %s (%s)" % (mode, then), 10), n.log_text()[-3000:]
    if expect_log is None and mode == "error_text":
        assert first == 500
    if expect_log:
        # Ring corruption is only seen on the next push: keep the model busy until it is.
        wait_for(lambda: expect_log in n.log_text() or poke(n, "victim"), 15,
                 "the node to log %r" % expect_log)
    if replaced:
        wait_for(lambda: any(p not in rogue for p in worker_pids(n)), 15, "a replacement")
    # The model serves again (after replacement where one was needed), the other never stopped.
    wait_for(lambda: ident(n, "victim") == 200, 20, "victim serving again")
    assert ident(n, "bystander") == 200
    assert n.request("GET", "/v2/health/live")[0] == 200
    text = n.log_text()
    assert len(text) < LOG_LIMIT, len(text)
    if expect_log:
        # One line per finding, not one per loop iteration.
        assert text.count(expect_log) <= 3, text[-3000:]
    assert n.stop() == 0


def test_worker_holds_only_its_fds_and_node_fds_are_cloexec(node, model_repo):
    n = node(repo=model_repo({"ident": IDENT}))
    [w] = wait_for(lambda: worker_pids(n), 10, "the worker")
    fds = {}
    for fd in os.listdir("/proc/%d/fd" % w):
        try:
            fds[int(fd)] = os.readlink("/proc/%d/fd/%s" % (w, fd))
        except OSError:
            pass
    assert fds[3].startswith("/memfd:inferd"), fds
    # 0-2, the region, the doorbell's flag page and its socket; anything else must be the
    # worker's own pidfd on the node.
    assert fds[4].startswith("/memfd:inferd-doorbell"), fds
    assert fds[5].startswith("socket:"), fds
    extra = {fd: t for fd, t in fds.items() if fd > 5 and t != "anon_inode:[pidfd]"}
    assert extra == {}, fds
    assert sum(1 for fd in fds if fd > 5) <= 1, fds
    # Every fd of the node past stdio is close-on-exec (sockets, pipes, epoll, eventfds, memfd).
    leaks = []
    for fd in os.listdir("/proc/%d/fdinfo" % n.pid):
        if int(fd) <= 2:
            continue
        try:
            with open("/proc/%d/fdinfo/%s" % (n.pid, fd)) as f:
                flags = int(f.read().split("flags:")[1].split()[0], 8)
            target = os.readlink("/proc/%d/fd/%s" % (n.pid, fd))
        except OSError:
            continue
        if not flags & O_CLOEXEC:
            leaks.append((fd, target))
    assert leaks == [], leaks


def memfd_mappings(pid):
    """inode -> bytes mapped of every inferd memfd in /proc/PID/maps."""
    sizes = {}
    with open("/proc/%d/maps" % pid) as f:
        for line in f:
            parts = line.split()
            if len(parts) >= 6 and parts[5] == "/memfd:inferd":  # not the doorbell page
                lo, hi = (int(x, 16) for x in parts[0].split("-"))
                sizes[int(parts[4])] = sizes.get(int(parts[4]), 0) + hi - lo
    return sizes


def test_worker_maps_only_its_models_region(node, model_repo):
    # Two models with their own arena sizes: each worker maps one region, the one on its fd 3,
    # sized for its model; the other model's region is nowhere in its address space.
    mib = 1 << 20
    repo = model_repo({"small": dict(IDENT, arena_mb=16), "big": dict(IDENT, arena_mb=48)})
    n = node(repo=repo)
    wait_for(lambda: len(worker_pids(n)) == 2, 10, "both workers")
    model_of = {}
    for line in n.log_text().splitlines():
        if "worker spawned model=" in line:
            model_of[int(line.split(" pid=")[1].split()[0])] = line.split("model=")[1].split()[0]
    region_of = {}
    for w in worker_pids(n):
        maps = memfd_mappings(w)
        fd3 = os.stat("/proc/%d/fd/3" % w).st_ino
        assert list(maps) == [fd3], (maps, fd3)
        region_of[model_of[w]] = (fd3, maps[fd3])
    assert set(region_of) == {"small", "big"}, region_of
    assert region_of["small"][0] != region_of["big"][0]
    assert 16 * mib <= region_of["small"][1] < 20 * mib, region_of
    assert 48 * mib <= region_of["big"][1] < 52 * mib, region_of
    # The node maps both, and says where each size came from.
    assert set(memfd_mappings(n.pid)) == {region_of["small"][0], region_of["big"][0]}
    assert n.wait_log("model small: own shared-memory region, arena_mb=16 (config)", 5)
    for model in ("small", "big"):
        assert ident(n, model) == 200
    assert n.stop() == 0


def test_worker_exits_when_node_is_killed_mid_batch(node, model_repo):
    cfg = dict(MOCK_DELAY, delay_ms=30000, workers={"min": 1, "max": 1})
    n = node(repo=model_repo({"delay": cfg}), args=["--log-level", "debug"])
    [w] = wait_for(lambda: worker_pids(n), 10, "the worker")
    t = threading.Thread(target=quietly, args=(ident, n, "delay", 40), daemon=True)
    t.start()
    wait_for(lambda: submitted_requests(n, "delay") >= 1, 15, "the long batch submitted")
    os.kill(n.pid, signal.SIGKILL)
    n.proc.wait(timeout=10)
    # Bounded: the brief allows a second; a loaded test machine gets five.
    wait_for(lambda: gone(w), 5, "worker %d to exit after its node was killed" % w)
    t.join(timeout=10)


def test_live_answers_while_scheduler_progresses(node, model_repo):
    n = node(repo=model_repo({"ident": IDENT}), args=["--live-stale-ms", "2000"])
    status, body = n.get_json("/v2/health/live")
    assert status == 200 and body == {"live": True}
    assert ident(n, "ident") == 200
    assert n.get_json("/v2/health/live")[0] == 200
