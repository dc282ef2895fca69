# inferd-gateway --node-dns: the nodes are what a DNS name resolves to (dnsmasq on a free
# loopback port answering from a hosts file), re-resolved while running: scaling out and in
# by changing the file moves the traffic, as a Kubernetes headless Service does.
import os
import shutil
import signal
import socket
import subprocess
import time

import pytest

from gwharness import FakeNode, Gateway

DNSMASQ = shutil.which("dnsmasq") or "/usr/sbin/dnsmasq"


def free_udp_port():
    """A port free on 127.0.0.1 for UDP and TCP a moment ago: dnsmasq listens on both."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
            u.bind(("127.0.0.1", 0))
            port = u.getsockname()[1]
            try:
                with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as t:
                    t.bind(("127.0.0.1", port))
                    return port
            except OSError:
                continue
    raise AssertionError("no port free for both UDP and TCP")


def free_port_on(hosts):
    """A TCP port free on every one of hosts a moment ago."""
    for _ in range(50):
        with socket.socket() as s:
            s.bind((hosts[0], 0))
            port = s.getsockname()[1]
        try:
            for h in hosts[1:]:
                with socket.socket() as s:
                    s.bind((h, port))
            return port
        except OSError:
            continue
    raise AssertionError("no common free port")


@pytest.fixture
def dns(tmp_path):
    if not os.path.exists(DNSMASQ):
        pytest.fail("dnsmasq missing (Debian dnsmasq-base, scripts/install-deps)")
    hosts = tmp_path / "hosts"
    hosts.write_text("")
    # a query for nodes.test: dnsmasq is up when it answers (a SIGHUP before it set its
    # handler would kill it); a port taken between picking and binding: try another
    query = (b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00"
             b"\x05nodes\x04test\x00\x00\x01\x00\x01")
    for _attempt in range(10):
        port = free_udp_port()
        proc = subprocess.Popen([DNSMASQ, "--no-daemon", "--port", str(port),
                                 "--listen-address", "127.0.0.1", "--bind-interfaces",
                                 "--no-resolv", "--no-hosts", "--addn-hosts=%s" % hosts,
                                 "--pid-file", "--user=root", "--cache-size=0"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 20
        up = False
        while not up and time.monotonic() < deadline and proc.poll() is None:
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
                s.settimeout(0.2)
                s.sendto(query, ("127.0.0.1", port))
                try:
                    up = s.recv(512)[:2] == b"\x12\x34"
                except OSError:
                    pass
        if up:
            break
        proc.kill()
        err = proc.communicate(timeout=10)[1]
    assert up, "dnsmasq did not come up: %s" % err.decode(errors="replace")

    class Dns:
        server = "127.0.0.1:%d" % port

        def set(self, lines):
            tmp = tmp_path / "hosts.tmp"
            tmp.write_text("".join("%s\n" % l for l in lines))
            os.rename(tmp, hosts)  # never half a file
            proc.send_signal(signal.SIGHUP)

        def wait_answer(self, ip, timeout=10.0):
            """Waits (bounded) until dnsmasq answers nodes.test with ip (it rereads the file
            on SIGHUP, asynchronously)."""
            want = socket.inet_aton(ip)
            end = time.monotonic() + timeout
            while time.monotonic() < end:
                with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
                    s.settimeout(0.2)
                    s.sendto(query, ("127.0.0.1", port))
                    try:
                        if want in s.recv(512)[12:]:
                            return
                    except OSError:
                        pass
                time.sleep(0.02)
            raise AssertionError("dnsmasq never answered %s" % ip)

    yield Dns()
    proc.kill()
    proc.wait(timeout=10)


def test_nodes_follow_the_dns_name(dns, tmp_path):
    ips = ["127.0.0.2", "127.0.0.3"]
    port = free_port_on(ips)
    a = FakeNode(host=ips[0], port=port, body=b'{"from": "a"}').start()
    b = FakeNode(host=ips[1], port=port, body=b'{"from": "b"}').start()
    gw = None
    try:
        dns.set(["%s nodes.test" % ips[0]])
        gw = Gateway([], str(tmp_path / "gw.log"),
                     ["--node-dns", "nodes.test:%d" % port, "--dns-server", dns.server,
                      "--dns-interval-ms", "200"]).start()
        for i in range(10):
            assert gw.request("POST", "/process", body=b"x%d" % i)[2] == b'{"from": "a"}'
        # scale out: both serve
        dns.set(["%s nodes.test" % ips[0], "%s nodes.test" % ips[1]])
        gw.wait_nodes(lambda ns: sum(x["present"] and x["ready"] for x in ns) == 2)
        answers = {gw.request("POST", "/process", body=b"y%d" % i)[2] for i in range(40)}
        assert answers == {b'{"from": "a"}', b'{"from": "b"}'}
        # scale in: a leaves the name, its traffic moves to b
        dns.set(["%s nodes.test" % ips[1]])
        gone = "%s:%d" % (ips[0], port)
        gw.wait_nodes(lambda ns: any(x["address"] == gone and not x["present"] for x in ns))
        routed = len(a.routed())
        for i in range(20):
            assert gw.request("POST", "/process", body=b"z%d" % i)[2] == b'{"from": "b"}'
        assert len(a.routed()) == routed
    finally:
        if gw:
            gw.stop()
        a.stop()
        b.stop()


@pytest.mark.parametrize("via", ["request", "health_check"])
def test_a_refused_connect_resolves_again_early(dns, tmp_path, via):
    """A node moves (its old address refuses, the name now gives a new one): a refused
    connect, of a client's request or of an active check, makes the gateway look the name up
    again at once, so it finds the new address long before --dns-interval-ms (60 s here)."""
    ips = ["127.0.0.2", "127.0.0.3"]
    port = free_port_on(ips)
    a = FakeNode(host=ips[0], port=port, body=b'{"from": "a"}').start()
    b = None
    gw = None
    # "request": checks too rare to notice (60 s), so only the request's connect failure
    # can ask for the lookup; "health_check": no requests at all until the move is seen
    health_ms = "60000" if via == "request" else "200"
    try:
        dns.set(["%s nodes.test" % ips[0]])
        gw = Gateway([], str(tmp_path / "gw.log"),
                     ["--node-dns", "nodes.test:%d" % port, "--dns-server", dns.server,
                      "--dns-interval-ms", "60000", "--health-interval-ms", health_ms]).start()
        old = "%s:%d" % (ips[0], port)
        gw.wait_nodes(lambda ns: any(x["address"] == old and x["ready"] for x in ns))
        a.stop()  # (no request went to a: no pooled connection outlives its listener)  # the old address refuses from now on
        b = FakeNode(host=ips[1], port=port, body=b'{"from": "b"}').start()
        dns.set(["%s nodes.test" % ips[1]])
        dns.wait_answer(ips[1])  # else the early lookup may still get the old answer
        new = "%s:%d" % (ips[1], port)
        if via == "request":
            # refused by a (then perhaps retried on b, if the lookup was quick enough)
            gw.request("POST", "/process", body=b"moved")
            # bounded far below the 60 s interval: only the early lookup can pass this
            gw.wait_nodes(lambda ns: any(x["address"] == new and x["present"] for x in ns),
                          timeout=10.0)
            deadline = time.monotonic() + 10
            answer = None
            while answer != b'{"from": "b"}' and time.monotonic() < deadline:
                answer = gw.request("POST", "/process", body=b"again")[2]
            assert answer == b'{"from": "b"}'
        else:
            gw.wait_nodes(lambda ns: any(x["address"] == new and x["present"] and x["ready"]
                                         for x in ns), timeout=10.0)
            assert gw.request("POST", "/process", body=b"moved")[2] == b'{"from": "b"}'
        assert "resolves to 1 nodes" in gw.log_text()
    finally:
        if gw:
            gw.stop()
        a.stop()
        if b:
            b.stop()
