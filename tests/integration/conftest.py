# Shared pytest fixtures for the integration tests: start the real `inferd` on a free
# loopback port with a given model repository and flags, wait until it is ready, talk to it,
# and always stop it (and its workers) by PID at the end, also when a test fails.
#
#   def test_x(node):
#       n = node()                                   # bundled models/ repository
#       n = node(repo=str(path), args=["--threads", "1"], ready=True)
#       status, headers, body = n.request("GET", "/v2/health/live")
#       n.url, n.port, n.pid, n.log_path, n.log_text()
#
#   def test_y(model_repo, node):
#       repo = model_repo({"reverse": {"backend": "reverse", "max_batch_size": 8}})
#       n = node(repo=repo)
#
# Environment: INFERD_BIN_DIR = the build's bin/ directory (holds inferd and inferd-worker);
# default <source>/build/bin.
import json
import os
import resource
import signal
import socket
import subprocess
import time
import http.client
import ctypes

import pytest

from sanitizers import sanitizer_report

SOURCE_DIR = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BIN_DIR = os.environ.get("INFERD_BIN_DIR", os.path.join(SOURCE_DIR, "build", "bin"))
BUNDLED_MODELS = os.path.join(SOURCE_DIR, "models")
READY_TIMEOUT_S = float(os.environ.get("INFERD_READY_TIMEOUT_S", "30"))
STOP_TIMEOUT_S = 15.0


LIBC = ctypes.CDLL(None, use_errno=True)
PR_SET_PDEATHSIG = 1


_HANDED_OUT = set()  # ports free_port already gave to this test process


def free_port():
    """A TCP port that was free on 127.0.0.1 a moment ago, never one this process was given
    before: a port handed out, then bound by a node on another loopback address (127.0.0.2..),
    still looks free on 127.0.0.1, and giving it out again made a node's HTTP port equal the
    cluster's gRPC port (test_gateway_grpc, a clean-clone ASan run)."""
    for _attempt in range(256):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port not in _HANDED_OUT:
            _HANDED_OUT.add(port)
            return port
    raise RuntimeError("free_port: no port this process was not given before")


def gone(pid):
    """True once the process has exited (or is a zombie)."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().split(") ")[1].split()[0] in ("Z", "X")
    except OSError:
        return True


def bin_path(name):
    return os.path.join(BIN_DIR, name)


class Node:
    """One running inferd process."""

    def __init__(self, repo, args, log_path, nofile=None):
        self.repo = repo
        self.nofile = nofile
        self.args = list(args)
        self.log_path = log_path
        self.port = None
        self.proc = None
        self.host = "127.0.0.1"

    # ---- life cycle ---------------------------------------------------------------------
    def start(self, ready=True, timeout=READY_TIMEOUT_S):
        exe = bin_path("inferd")
        if not os.path.exists(exe):
            pytest.fail("inferd not found at %s (set INFERD_BIN_DIR)" % exe)
        last_log = ""
        for _attempt in range(3):  # a port picked as free may be taken before we bind it
            self.port = free_port()
            cmd = [exe, "--host", self.host, "--http-port", str(self.port),
                   "--model-repository", self.repo] + self.args
            if "--grpc-port" not in self.args:  # never the fixed default 8001: tests run at once
                cmd += ["--grpc-port", "0"]
            if "--drain-delay-ms" not in self.args:  # tests stop nodes at once unless they ask
                cmd += ["--drain-delay-ms", "0"]
            self.log = open(self.log_path, "ab")
            self.log.write(("=== %s\n" % " ".join(cmd)).encode())
            self.log.flush()
            # Own session: so the teardown can also reap any worker left behind.
            limit = self.nofile

            def preexec():
                # the node dies with this test process, even when ctest kills it on a timeout
                # (a node's workers follow their node)
                LIBC.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
                if limit is not None:
                    resource.setrlimit(resource.RLIMIT_NOFILE, (limit, limit))
            self.proc = subprocess.Popen(cmd, stdout=self.log, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL, start_new_session=True,
                                         preexec_fn=preexec)
            ok = self._wait_up(ready, timeout)
            if ok:
                return self
            last_log = self.log_text()
            if self.proc.poll() is None:
                pytest.fail("inferd did not become %s within %.0fs; log:\n%s"
                            % ("ready" if ready else "live", timeout, last_log[-6000:]))
            if "in use" not in last_log.lower():
                break
        pytest.fail("inferd exited with %s at start; log:\n%s"
                    % (self.proc.returncode, last_log[-6000:]))

    def _wait_up(self, ready, timeout):
        path = "/v2/health/ready" if ready else "/v2/health/live"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return False
            try:
                status, _, _ = self.request("GET", path, timeout=1.0)
                if status == 200:
                    return True
            except OSError:
                pass
            time.sleep(0.05)
        return False

    def stop(self, sig=signal.SIGTERM, timeout=STOP_TIMEOUT_S):
        """Signals the node and waits for it; SIGKILL after timeout. Returns the exit code."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            try:
                os.kill(self.proc.pid, sig)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)
        self._reap_group()
        if self.log and not self.log.closed:
            self.log.close()
        return self.proc.returncode

    def _reap_group(self):
        # The node ran in its own session (pgid == its pid): anything left there is ours.
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass

    # ---- accessors ----------------------------------------------------------------------
    @property
    def pid(self):
        return self.proc.pid

    @property
    def url(self):
        return "http://%s:%d" % (self.host, self.port)

    @property
    def grpc_port(self):
        """The gRPC port the node logged ("listening on grpc://host:port"), or None."""
        import re
        m = re.search(r"listening on grpc://[^ ]*:(\d+)", self.log_text().split("=== ")[-1])
        return int(m.group(1)) if m else None

    @property
    def grpc_target(self):
        # A node started with ready=False may not have logged its gRPC port yet (slow under
        # the sanitizers): wait for it, bounded.
        deadline = time.monotonic() + READY_TIMEOUT_S
        port = self.grpc_port
        while port is None and time.monotonic() < deadline and self.alive():
            time.sleep(0.05)
            port = self.grpc_port
        if port is None:
            raise AssertionError("the node logged no gRPC port:\n" + self.log_text()[-2000:])
        return "%s:%d" % (self.host, port)

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def log_text(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def wait_log(self, needle, timeout=10.0):
        """Waits (bounded) until the log contains needle; returns True if it did."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if needle in self.log_text():
                return True
            time.sleep(0.05)
        return False

    def worker_pids(self):
        """PIDs of the node's children (its workers), from every thread: workers are forked
        by scheduler threads, so /proc/PID/task/PID/children alone misses them."""
        pids = set()
        try:
            tasks = os.listdir("/proc/%d/task" % self.pid)
        except OSError:
            return []
        for tid in tasks:
            try:
                with open("/proc/%d/task/%s/children" % (self.pid, tid)) as f:
                    pids.update(int(p) for p in f.read().split())
            except OSError:
                pass
        return sorted(pids)

    # ---- talking to it ------------------------------------------------------------------
    def connect(self, timeout=10.0):
        """A raw socket to the node (for pipelining and malformed-request tests)."""
        s = socket.create_connection((self.host, self.port), timeout=timeout)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return s

    def request(self, method, path, body=None, headers=None, timeout=30.0):
        """One request on a fresh connection. body: bytes, str or a JSON-able object.
        Returns (status, headers dict with lower-case names, body bytes)."""
        hdrs = dict(headers or {})
        if body is not None and not isinstance(body, (bytes, str)):
            body = json.dumps(body)
            hdrs.setdefault("Content-Type", "application/json")
        if isinstance(body, str):
            body = body.encode()
        conn = http.client.HTTPConnection(self.host, self.port, timeout=timeout)
        try:
            conn.request(method, path, body=body, headers=hdrs)
            resp = conn.getresponse()
            data = resp.read()
            return resp.status, {k.lower(): v for k, v in resp.getheaders()}, data
        finally:
            conn.close()

    def get_json(self, path, **kw):
        status, headers, data = self.request("GET", path, **kw)
        return status, json.loads(data) if data else None

    def post_json(self, path, obj, **kw):
        status, headers, data = self.request("POST", path, body=obj, **kw)
        try:
            parsed = json.loads(data) if data else None
        except ValueError:
            parsed = None
        return status, parsed

    def infer(self, model, inputs, **kw):
        """POST /v2/models/{model}/infer with {"inputs": inputs, ...kw-extras}."""
        body = {"inputs": inputs}
        extra = kw.pop("extra", None)
        if extra:
            body.update(extra)
        return self.post_json("/v2/models/%s/infer" % model, body, **kw)


@pytest.fixture
def node(tmp_path):
    """Factory: node(repo=None, args=(), ready=True, timeout=..., nofile=None) starts an inferd and returns
    a Node; every node started is stopped (and its process group killed) at teardown."""
    started = []

    def start(repo=None, args=(), ready=True, timeout=READY_TIMEOUT_S, nofile=None):
        log_path = str(tmp_path / ("inferd-%d.log" % len(started)))
        n = Node(repo or BUNDLED_MODELS, args, log_path, nofile=nofile)
        started.append(n)
        return n.start(ready=ready, timeout=timeout)

    yield start
    for n in started:
        n.stop()
    # A sanitizer report by the node or a worker fails the test even when every request was
    # answered (a worker that ASan aborted is simply restarted by the node).
    for n in started:
        report = sanitizer_report(n.log_text())
        if report:
            pytest.fail("sanitizer report in %s:\n%s" % (n.log_path, report))


@pytest.fixture
def model_repo(tmp_path):
    """Factory: model_repo({"name": config_dict, ...}) writes a repository into a tmp dir and
    returns its path. A value that is a str is written verbatim (for broken configs)."""
    count = [0]

    def make(models):
        count[0] += 1
        root = tmp_path / ("repo%d" % count[0])
        root.mkdir()
        for name, cfg in models.items():
            d = root / name
            d.mkdir()
            text = cfg if isinstance(cfg, str) else json.dumps(cfg)
            (d / "config.json").write_text(text)
        return str(root)

    return make


# Configs of the bundled mock models with test-friendly settings, for tests that build repos.
MOCK_REVERSE = {"backend": "reverse", "max_batch_size": 64,
                "inputs": [{"name": "INPUT0", "datatype": "BYTES", "dims": [-1]}],
                "outputs": [{"name": "OUTPUT0", "datatype": "BYTES", "dims": [-1]}],
                "workers": {"min": 1, "max": 2}}
MOCK_IDENTITY = {"backend": "identity", "max_batch_size": 64,
                 "inputs": [{"name": "INPUT0", "datatype": "FP32", "dims": [-1]}],
                 "outputs": [{"name": "OUTPUT0", "datatype": "FP32", "dims": [-1]}],
                 "workers": {"min": 1, "max": 2}}
MOCK_DELAY = {"backend": "delay", "max_batch_size": 64, "delay_ms": 1000,
              "inputs": [{"name": "INPUT0", "datatype": "FP32", "dims": [-1]}],
              "outputs": [{"name": "OUTPUT0", "datatype": "FP32", "dims": [-1]}],
              "workers": {"min": 1, "max": 2}}


@pytest.fixture
def regions():
    """Factory: regions(size) makes a POSIX shared-memory object (Python's
    multiprocessing.shared_memory; its shm_open name is "/" + m.name); all are closed and
    unlinked at the end."""
    from multiprocessing import shared_memory
    made = []

    def make(size):
        m = shared_memory.SharedMemory(create=True, size=size)
        made.append(m)
        return m

    yield make
    for m in made:
        m.close()
        m.unlink()
