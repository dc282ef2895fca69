# The multi-node test bed: a bridge, one network namespace per node, one for the gateway and one
# for clients, dnsmasq answering the headless-service name, and the fault tools. Layout and
# naming: docs/cluster-bed.md. Everything is torn down by Bed.close() (also atexit).
import atexit
import contextlib
import ctypes
import http.client
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
from sanitizers import sanitizer_report  # noqa: E402

SOURCE_DIR = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BIN_DIR = os.environ.get("INFERD_BIN_DIR", os.path.join(SOURCE_DIR, "build", "bin"))
SUBNET = "10.77.0"          # every bed has its own bridge, so beds may share addresses
SERVICE = "nodes.inferd.test"
NODE_PORT = 8000
GATEWAY_PORT = 8080
READY_TIMEOUT_S = float(os.environ.get("INFERD_READY_TIMEOUT_S", "30"))

LIBC = ctypes.CDLL(None, use_errno=True)
CLONE_NEWNET = 0x40000000
PR_SET_PDEATHSIG = 1

_live_beds = []
STATE_DIR = "/run/inferd-beds"  # <tag>.pid: which process owns a bed, for sweep_stale()


def sweep_stale():
    """Removes the namespaces and links of beds whose owner process is gone (a run killed
    before its teardown)."""
    try:
        names = os.listdir(STATE_DIR)
    except OSError:
        return
    for fn in names:
        tag, _, ext = fn.partition(".")
        try:
            with open(os.path.join(STATE_DIR, fn)) as f:
                pid = int(f.read())
            os.kill(pid, 0)
            continue  # still running
        except (OSError, ValueError):
            pass
        for ns in run("ip", "netns", "list", check=False).split():
            if ns.startswith(tag):
                run("ip", "netns", "del", ns, check=False)
        for line in run("ip", "-o", "link", check=False).splitlines():
            parts = line.split(": ")
            if len(parts) > 1 and parts[1].split("@")[0].startswith(tag):
                run("ip", "link", "del", parts[1].split("@")[0], check=False)
        with contextlib.suppress(OSError):
            os.unlink(os.path.join(STATE_DIR, fn))


def run(*cmd, check=True, timeout=20):
    r = subprocess.run(list(cmd), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       timeout=timeout, text=True)
    if check and r.returncode != 0:
        raise RuntimeError("%s failed (%d): %s" % (" ".join(cmd), r.returncode, r.stdout))
    return r.stdout


@contextlib.contextmanager
def in_netns(name):
    """Runs the body with this thread in network namespace `name`: sockets made inside stay
    there. Only this thread moves (setns is per thread)."""
    own = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
    target = os.open("/run/netns/" + name, os.O_RDONLY)
    try:
        if LIBC.setns(target, CLONE_NEWNET) != 0:
            raise OSError(ctypes.get_errno(), "setns %s" % name)
        try:
            yield
        finally:
            if LIBC.setns(own, CLONE_NEWNET) != 0:
                raise OSError(ctypes.get_errno(), "setns back")
    finally:
        os.close(own)
        os.close(target)


def _preexec():
    LIBC.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


class Proc:
    """A process started in a namespace (ip netns exec execs it: same PID), logged to a file."""

    def __init__(self, bed, ns, argv, name):
        self.name = name
        self.log_path = os.path.join(bed.dir, name + ".log")
        self.log = open(self.log_path, "ab")
        self.log.write(("=== %s\n" % " ".join(argv)).encode())
        self.log.flush()
        self.proc = subprocess.Popen(["ip", "netns", "exec", ns] + argv, stdout=self.log,
                                     stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                     start_new_session=True, preexec_fn=_preexec)
        self.pid = self.proc.pid

    def alive(self):
        return self.proc.poll() is None

    def stop(self, sig=signal.SIGTERM, timeout=15.0):
        if self.proc.poll() is None:
            try:
                os.kill(self.pid, signal.SIGCONT)  # a stopped process cannot handle SIGTERM
                os.kill(self.pid, sig)
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.kill(self.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)
            except ProcessLookupError:
                pass
        try:
            os.killpg(self.pid, signal.SIGKILL)  # its workers, in its session
        except (ProcessLookupError, PermissionError):
            pass
        if not self.log.closed:
            self.log.close()
        return self.proc.returncode

    def log_text(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def wait_log(self, needle, timeout=READY_TIMEOUT_S):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if needle in self.log_text():
                return True
            if not self.alive():
                return False
            time.sleep(0.05)
        return False


class Node:
    def __init__(self, bed, index):
        self.bed = bed
        self.index = index
        self.ns = "%sn%d" % (bed.tag, index)
        self.ip = "%s.%d" % (SUBNET, 10 + index)
        self.proc = None

    @property
    def addr(self):
        return "%s:%d" % (self.ip, NODE_PORT)

    def start(self, wait=True):
        exe = os.path.join(BIN_DIR, "inferd")
        self.proc = Proc(self.bed, self.ns,
                         [exe, "--host", self.ip, "--http-port", str(NODE_PORT),
                          "--grpc-port", "-1", "--threads", "1",
                          "--model-repository", self.bed.repo], "node%d" % self.index)
        if wait:
            self.wait_ready()
        return self

    def wait_ready(self, timeout=READY_TIMEOUT_S):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.proc.alive():
                raise AssertionError("node %d exited:\n%s" % (self.index,
                                                              self.proc.log_text()[-3000:]))
            try:
                if self.bed.request(self.ip, NODE_PORT, "GET", "/v2/health/ready",
                                    timeout=1.0)[0] == 200:
                    return
            except OSError:
                pass
            time.sleep(0.05)
        raise AssertionError("node %d not ready:\n%s" % (self.index, self.proc.log_text()[-3000:]))

    @property
    def pid(self):
        return self.proc.pid


class Bed:
    """One cluster: Bed(n_nodes).up(); bed.nodes[i]; bed.close()."""

    def __init__(self, n_nodes=3):
        self.tag = "ib%06x" % ((os.getpid() << 12 ^ random.getrandbits(24)) & 0xffffff)
        self.dir = tempfile.mkdtemp(prefix="inferd-bed-%s-" % self.tag)
        self.bridge = self.tag
        self.namespaces = []
        self.links = []
        self.procs = []
        self.faults = []
        self.nodes = [Node(self, i) for i in range(n_nodes)]
        self.gw_ns, self.gw_ip = self.tag + "gw", SUBNET + ".2"
        self.client_ns, self.client_ip = self.tag + "cl", SUBNET + ".3"
        self.hosts_file = os.path.join(self.dir, "service.hosts")
        self.dns = None
        self.gateway = None
        self.repo = os.path.join(self.dir, "models")
        _live_beds.append(self)

    # ---- set-up ---------------------------------------------------------------------------
    def up(self, start_nodes=True):
        sweep_stale()
        os.makedirs(STATE_DIR, exist_ok=True)
        with open(os.path.join(STATE_DIR, self.tag + ".pid"), "w") as f:
            f.write(str(os.getpid()))
        try:
            self._make_repo()
            run("ip", "link", "add", self.bridge, "type", "bridge")
            self.links.append(self.bridge)
            # bridged frames skip the root namespace's iptables (br_netfilter may be loaded)
            run("ip", "link", "set", self.bridge, "type", "bridge", "nf_call_iptables", "0",
                check=False)
            run("ip", "link", "set", self.bridge, "up")
            for ns, ip in [(self.gw_ns, self.gw_ip), (self.client_ns, self.client_ip)] + \
                    [(n.ns, n.ip) for n in self.nodes]:
                self._add_ns(ns, ip)
            self._start_dns()
            if start_nodes:
                for n in self.nodes:
                    n.start(wait=False)
                for n in self.nodes:
                    n.wait_ready()
            return self
        except BaseException:
            self.close()
            raise

    def _make_repo(self):
        os.makedirs(os.path.join(self.repo, "reverse"))
        with open(os.path.join(SOURCE_DIR, "models", "reverse", "config.json")) as f:
            cfg = json.load(f)
        cfg["workers"] = {"min": 1, "max": 2}  # 2 cores for the whole bed
        with open(os.path.join(self.repo, "reverse", "config.json"), "w") as f:
            json.dump(cfg, f)

    def _add_ns(self, ns, ip):
        run("ip", "netns", "add", ns)
        self.namespaces.append(ns)
        outer = self.tag + ns[len(self.tag):]
        outer = outer if len(outer) <= 15 else outer[:15]
        run("ip", "link", "add", outer, "type", "veth", "peer", "name", "eth0", "netns", ns)
        self.links.append(outer)
        run("ip", "link", "set", outer, "master", self.bridge, "up")
        run("ip", "-n", ns, "addr", "add", ip + "/24", "dev", "eth0")
        run("ip", "-n", ns, "link", "set", "eth0", "up")
        run("ip", "-n", ns, "link", "set", "lo", "up")

    def _start_dns(self):
        self.set_service([n.ip for n in self.nodes])
        self.dns = self.spawn(self.gw_ns, [
            shutil.which("dnsmasq") or "/usr/sbin/dnsmasq", "--keep-in-foreground",
            "--conf-file=/dev/null", "--no-resolv", "--no-hosts", "--no-poll", "--user=root",
            "--bind-interfaces", "--listen-address=127.0.0.1," + self.gw_ip, "--port=53",
            "--local-ttl=0", "--addn-hosts=" + self.hosts_file, "--pid-file=",
            "--log-facility=-"], "dnsmasq")
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.resolve(SERVICE):
                return
            time.sleep(0.05)
        raise AssertionError("dnsmasq did not answer:\n" + self.dns.log_text())

    # ---- DNS ------------------------------------------------------------------------------
    def set_service(self, ips):
        """Rewrites the headless-service name to these addresses (SIGHUP reloads dnsmasq)."""
        tmp = self.hosts_file + ".tmp"
        with open(tmp, "w") as f:
            for ip in ips:
                f.write("%s %s\n" % (ip, SERVICE))
        os.chmod(tmp, 0o644)
        os.replace(tmp, self.hosts_file)
        if self.dns is not None and self.dns.alive():
            os.kill(self.dns.pid, signal.SIGHUP)

    def resolve(self, name, server=None, timeout=1.0):
        """A records of name from dnsmasq (asked from the client namespace); [] on failure."""
        server = server or self.gw_ip
        qid = random.getrandbits(16)
        q = qid.to_bytes(2, "big") + b"\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00"
        for label in name.split("."):
            q += bytes([len(label)]) + label.encode()
        q += b"\x00\x00\x01\x00\x01"
        with in_netns(self.client_ns):
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            s.settimeout(timeout)
            s.sendto(q, (server, 53))
            data, _ = s.recvfrom(4096)
        except OSError:
            return []
        finally:
            s.close()
        if len(data) < 12 or int.from_bytes(data[:2], "big") != qid:
            return []
        ancount = int.from_bytes(data[6:8], "big")
        pos = len(q)
        ips = []
        for _ in range(ancount):
            if pos < len(data) and data[pos] & 0xc0 == 0xc0:
                pos += 2
            else:
                while pos < len(data) and data[pos]:
                    pos += data[pos] + 1
                pos += 1
            rtype = int.from_bytes(data[pos:pos + 2], "big")
            rdlen = int.from_bytes(data[pos + 8:pos + 10], "big")
            pos += 10
            if rtype == 1 and rdlen == 4:
                ips.append(socket.inet_ntoa(data[pos:pos + 4]))
            pos += rdlen
        return sorted(ips)

    # ---- processes and faults -------------------------------------------------------------
    def spawn(self, ns, argv, name):
        p = Proc(self, ns, argv, name)
        self.procs.append(p)
        return p

    def start_gateway(self, args=None, dns=True):
        exe = os.path.join(BIN_DIR, "inferd-gateway")
        argv = [exe, "--http-port", str(GATEWAY_PORT)]
        if dns:
            argv += ["--node-dns", "%s:%d" % (SERVICE, NODE_PORT), "--dns-server", "127.0.0.1",
                     "--dns-interval-ms", "1000"]
        argv += list(args or [])
        self.gateway = self.spawn(self.gw_ns, argv, "gateway")
        if not self.gateway.wait_log("listening on http port"):
            raise AssertionError("gateway did not start:\n" + self.gateway.log_text()[-3000:])
        return self.gateway

    def fault(self, *args):
        """Applies a fault with inferd-fault (held until clear_fault); returns its handle."""
        exe = os.path.join(BIN_DIR, "inferd-fault")
        p = subprocess.Popen([exe] + list(args), stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, text=True,
                             preexec_fn=_preexec)
        line = p.stdout.readline()
        if not line.startswith("applied:"):
            p.wait(timeout=10)
            raise AssertionError("inferd-fault %s: %s%s" % (" ".join(args), line,
                                                             p.stdout.read()))
        self.faults.append(p)
        return p

    def clear_fault(self, p):
        p.send_signal(signal.SIGTERM)
        out, _ = p.communicate(timeout=20)
        if p in self.faults:
            self.faults.remove(p)
        assert "cleared" in out and p.returncode == 0, out
        return out

    # ---- talking to it --------------------------------------------------------------------
    def connect(self, ip, port, timeout=5.0):
        """An http.client connection from the client namespace."""
        c = http.client.HTTPConnection(ip, port, timeout=timeout)
        with in_netns(self.client_ns):
            c.connect()
        return c

    def request(self, ip, port, method, path, body=None, headers=None, timeout=5.0):
        c = self.connect(ip, port, timeout)
        try:
            c.request(method, path, body=body, headers=headers or {})
            r = c.getresponse()
            return r.status, dict(r.getheaders()), r.read()
        finally:
            c.close()

    # ---- teardown -------------------------------------------------------------------------
    def close(self):
        for p in list(self.faults):
            try:
                p.send_signal(signal.SIGTERM)
                p.communicate(timeout=20)
            except Exception:
                p.kill()
        self.faults = []
        for n in self.nodes:  # no graceful drain at teardown (it waits --drain-delay-ms)
            if n.proc:
                n.proc.stop(sig=signal.SIGKILL, timeout=5)
        for p in self.procs:
            p.stop(timeout=5)
        for ns in reversed(self.namespaces):
            run("ip", "netns", "del", ns, check=False)
        self.namespaces = []
        for link in self.links:
            run("ip", "link", "del", link, check=False)
        self.links = []
        with contextlib.suppress(OSError):
            os.unlink(os.path.join(STATE_DIR, self.tag + ".pid"))
        self.sanitizer_reports = []  # read before the logs go: the cluster fixture fails on one
        for name in sorted(os.listdir(self.dir)) if os.path.isdir(self.dir) else []:
            if name.endswith(".log"):
                with open(os.path.join(self.dir, name), "rb") as f:
                    report = sanitizer_report(f.read().decode("utf-8", "replace"))
                if report:
                    self.sanitizer_reports.append("%s:\n%s" % (name, report))
        if os.environ.get("INFERD_BED_KEEP_LOGS") is None:
            shutil.rmtree(self.dir, ignore_errors=True)
        if self in _live_beds:
            _live_beds.remove(self)


@atexit.register
def _close_all():
    for b in list(_live_beds):
        b.close()


def process_body(msg):
    return json.dumps({"message": msg}).encode()


def expected_result(msg):
    return "WORKER_PROCESSED: " + msg[::-1].upper()
