# The bed and the fault tools, with nodes only (no gateway): the bed comes up and is reachable,
# DNS follows the service file, and each fault (inferd-fault, inferd-netdelay) is measurably
# applied and then removed. Lower bounds and counts only; no timed assertions.
import os
import signal
import socket
import subprocess
import time

import pytest

import bed as bedlib
from bed import in_netns, process_body, expected_result, run


def process(b, node, msg, timeout=5.0):
    status, _, body = b.request(node.ip, bedlib.NODE_PORT, "POST", "/process",
                                process_body(msg), timeout=timeout)
    return status, body


def test_bed_comes_up_and_every_node_answers(cluster):
    b = cluster(3)
    assert b.resolve(bedlib.SERVICE) == sorted(n.ip for n in b.nodes)
    for n in b.nodes:
        msg = "hello from node %d %s" % (n.index, b.tag)
        status, body = process(b, n, msg)
        assert status == 200, body
        assert bedlib.json.loads(body)["result"] == expected_result(msg)
    # namespaces are isolated: the gateway namespace reaches the nodes, the root one does not
    # have the bed's addresses at all
    assert b.nodes[0].ip not in run("ip", "-4", "addr")


def test_dns_scale_in_and_out(cluster):
    b = cluster(3, start_nodes=False)
    ips = [n.ip for n in b.nodes]
    b.set_service(ips[:1])
    deadline = time.monotonic() + 5
    while b.resolve(bedlib.SERVICE) != ips[:1] and time.monotonic() < deadline:
        time.sleep(0.05)
    assert b.resolve(bedlib.SERVICE) == ips[:1]
    b.set_service(ips)
    deadline = time.monotonic() + 5
    while b.resolve(bedlib.SERVICE) != sorted(ips) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert b.resolve(bedlib.SERVICE) == sorted(ips)


def test_teardown_leaves_nothing(cluster):
    b = cluster(2, start_nodes=False)
    tag = b.tag
    f = b.fault("--netns", b.nodes[0].ns, "delay", "10")
    delayer = [l for l in run("ps", "-eo", "pid,args").splitlines() if "inferd-netdelay" in l]
    assert delayer
    b.close()
    assert tag not in run("ip", "netns", "list")
    assert tag not in run("ip", "link")
    assert f.poll() is not None
    assert not os.path.exists(b.dir)


def udp_loss_fraction(b, node, count=2000):
    """Sends count datagrams from the client namespace to node; returns the fraction lost."""
    with in_netns(node.ns):
        rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    with in_netns(b.client_ns):
        tx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        # room for every datagram, so only the rule drops any
        rx.setsockopt(socket.SOL_SOCKET, 33, 8 << 20)  # SO_RCVBUFFORCE
        rx.bind((node.ip, 0))
        port = rx.getsockname()[1]
        for i in range(count):
            tx.sendto(b"%d" % i, (node.ip, port))
        rx.settimeout(0.5)
        got = set()
        try:
            while len(got) < count:
                got.add(int(rx.recv(64)))
        except socket.timeout:
            pass
        return 1.0 - len(got) / count
    finally:
        rx.close()
        tx.close()


def test_loss_rule_drops_about_p_percent(cluster):
    b = cluster(1, start_nodes=False)
    node = b.nodes[0]
    assert udp_loss_fraction(b, node) == 0.0
    f = b.fault("--netns", node.ns, "--iface", "eth0", "--dir", "in", "loss", "20")
    lost = udp_loss_fraction(b, node)
    # 2000 trials at p=0.2: sd 0.9 points; +-5 points is more than 5 sd
    assert 0.15 <= lost <= 0.25, lost
    ruleset = run("ip", "netns", "exec", node.ns, "nft", "list", "ruleset")
    assert "numgen random mod 100 < 20 drop" in ruleset
    b.clear_fault(f)
    assert "inferd_fault" not in run("ip", "netns", "exec", node.ns, "nft", "list", "ruleset")
    assert udp_loss_fraction(b, node) == 0.0


def test_partition_makes_connects_time_out(cluster):
    b = cluster(2)
    cut, other = b.nodes
    f = b.fault("--netns", cut.ns, "partition")
    with pytest.raises(socket.timeout):
        b.request(cut.ip, bedlib.NODE_PORT, "GET", "/v2/health/ready", timeout=1.0)
    assert process(b, other, "still here")[0] == 200  # only that node is cut off
    b.clear_fault(f)
    assert process(b, cut, "back")[0] == 200


def test_delay_adds_at_least_n_ms(cluster):
    b = cluster(1)
    node = b.nodes[0]
    delay_ms = 150
    f = b.fault("--netns", node.ns, "--iface", "eth0", "delay", str(delay_ms))
    c = b.connect(node.ip, bedlib.NODE_PORT, timeout=10)
    try:
        for i in range(5):
            t0 = time.monotonic()
            c.request("POST", "/process", body=process_body("slow %d" % i))
            r = c.getresponse()
            body = r.read()
            elapsed = time.monotonic() - t0
            assert r.status == 200, body
            # the request's packets are held delay_ms on the way in: a lower bound
            assert elapsed >= delay_ms / 1000.0, elapsed
    finally:
        c.close()
    out = b.clear_fault(f)
    assert "cleared" in out
    assert "INFERD_DLY" not in run("ip", "netns", "exec", node.ns, "iptables", "-S")
    assert process(b, node, "undelayed")[0] == 200


def test_netdelay_help_and_clean_exit(cluster):
    b = cluster(1, start_nodes=False)
    exe = os.path.join(bedlib.BIN_DIR, "inferd-netdelay")
    assert "NFQUEUE" in subprocess.run([exe, "--help"], capture_output=True, text=True,
                                       timeout=10).stdout
    assert subprocess.run([exe, "--queue", "x"], capture_output=True,
                          timeout=10).returncode == 2
    p = b.spawn(b.nodes[0].ns, [exe, "--queue", "77", "--delay-ms", "5"], "netdelay")
    assert p.wait_log("ready", timeout=10), p.log_text()
    os.kill(p.pid, signal.SIGTERM)
    assert p.proc.wait(timeout=10) == 0
    assert "packets delayed" in p.log_text()


def proc_state(pid):
    with open("/proc/%d/stat" % pid) as f:
        return f.read().rsplit(") ", 1)[1].split()[0]


def test_process_faults_stop_slow_kill(cluster):
    b = cluster(1)
    node = b.nodes[0]
    f = b.fault("stop", str(node.pid))
    assert proc_state(node.pid) == "T"
    with pytest.raises(socket.timeout):
        process(b, node, "to a stopped node", timeout=1.0)
    b.clear_fault(f)
    assert proc_state(node.pid) != "T"
    assert process(b, node, "continued")[0] == 200

    f = b.fault("slow", str(node.pid))
    seen_stopped = False
    deadline = time.monotonic() + 5
    while not seen_stopped and time.monotonic() < deadline:
        seen_stopped = proc_state(node.pid) == "T"
        time.sleep(0.01)
    assert seen_stopped
    for i in range(10):  # slow, not dead: every request is still answered
        msg = "slow %d" % i
        status, body = process(b, node, msg, timeout=10)
        assert status == 200 and bedlib.json.loads(body)["result"] == expected_result(msg)
    b.clear_fault(f)
    assert proc_state(node.pid) != "T"

    out = subprocess.run([os.path.join(bedlib.BIN_DIR, "inferd-fault"), "kill",
                          str(node.pid)], capture_output=True, text=True, timeout=10).stdout
    assert "applied: kill -9" in out
    assert node.proc.proc.wait(timeout=10) == -signal.SIGKILL
