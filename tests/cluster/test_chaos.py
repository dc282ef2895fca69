# `inferctl chaos` against a node of the bed: it runs load, applies the fault, removes it, and
# reports errors and recovery; a fault never outlives the command (also on SIGINT).
import json
import os
import signal
import subprocess
import time

import bed as bedlib
from bed import run

INFERCTL = os.path.join(bedlib.BIN_DIR, "inferctl")


def chaos(b, node, *args, timeout=60):
    r = subprocess.run(["ip", "netns", "exec", b.client_ns, INFERCTL, "chaos", "--url",
                        "http://%s" % node.addr, "--json", "--fault-at", "1"] + list(args),
                       capture_output=True, text=True, timeout=timeout)
    assert r.returncode == 0, r.stdout + r.stderr
    return json.loads(r.stdout)


def worker_pids(pid):
    """The node's children (its workers), from /proc."""
    kids = []
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open("/proc/%s/stat" % d) as f:
                    if int(f.read().rsplit(") ", 1)[1].split()[1]) == pid:
                        kids.append(int(d))
            except (OSError, ValueError, IndexError):
                pass
    return kids


def nft_tables(ns):
    return run("ip", "netns", "exec", ns, "nft", "list", "tables")


def test_chaos_kill_worker_recovers(cluster):
    b = cluster(1)
    node = b.nodes[0]
    victim = worker_pids(node.pid)[0]
    rep = chaos(b, node, "kill", str(victim), "--after", "4")
    assert rep["fault"] == "kill %d" % victim
    assert rep["requests"] > 0
    assert rep["recovered"] is True, rep
    assert not os.path.exists("/proc/%d/stat" % victim) or \
        open("/proc/%d/stat" % victim).read().split(") ")[1][0] == "Z"
    assert node.proc.alive()


def test_chaos_partition_counts_errors_and_recovery(cluster):
    b = cluster(1)
    node = b.nodes[0]
    rep = chaos(b, node, "partition", "--netns", node.ns, "--fault-for", "2", "--after", "3",
                "--timeout-ms", "500")
    assert rep["errors_during_fault"] > 0, rep
    assert rep["recovered"] is True and rep["recovery_s"] >= 1.5, rep
    assert "inferd_fault" not in nft_tables(node.ns)


def test_chaos_delay_adds_no_errors_and_cleans_up(cluster):
    b = cluster(1)
    node = b.nodes[0]
    rep = chaos(b, node, "delay", "100", "--netns", node.ns, "--iface", "eth0",
                "--fault-for", "2", "--after", "1")
    assert rep["fault"].startswith("delay 100 ms"), rep
    assert rep["requests"] > 0 and rep["errors"] == 0, rep
    assert "INFERD_DLY" not in run("ip", "netns", "exec", node.ns, "iptables", "-S")


def test_chaos_sigint_removes_the_fault(cluster):
    b = cluster(1)
    node = b.nodes[0]
    p = subprocess.Popen(["ip", "netns", "exec", b.client_ns, INFERCTL, "chaos", "--url",
                          "http://%s" % node.addr, "--fault-at", "0", "--fault-for", "60",
                          "loss", "50", "--netns", node.ns],
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 10
        while "inferd_fault" not in nft_tables(node.ns) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert "inferd_fault" in nft_tables(node.ns)
        p.send_signal(signal.SIGINT)
        out, _ = p.communicate(timeout=30)
        assert p.returncode == 0, out
        assert "fault:" in out
    finally:
        if p.poll() is None:
            p.kill()
            p.wait(timeout=10)
    assert "inferd_fault" not in nft_tables(node.ns)
