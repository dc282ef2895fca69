# Helpers for the gateway's integration tests: start inferd-gateway in front of nodes on
# loopback (port 0: it logs "listening on http port N"), and fake nodes (a small threaded
# HTTP/1.1 server whose answers a test sets, recording every request it gets).
#
#   gw = Gateway(["127.0.0.1:%d" % n.port for n in nodes], log_path).start()
#   status, headers, body = gw.request("POST", "/process", body=b'{"message": "x"}')
#   gw.stop()
#
#   fake = FakeNode(status=503).start()   # GET /v2/health/ready answers 200, index lists
#   fake.requests  -> [(method, path, headers dict lower-case, body bytes)]   "reverse"
import http.client
import http.server
import json
import os
import re
import signal
import subprocess
import threading
import time

from conftest import LIBC, PR_SET_PDEATHSIG, READY_TIMEOUT_S, STOP_TIMEOUT_S, bin_path
from sanitizers import sanitizer_report


class Gateway:
    def __init__(self, nodes, log_path, args=()):
        self.nodes = list(nodes)
        self.args = list(args)
        self.log_path = log_path
        self.proc = None
        self.port = None
        self.host = "127.0.0.1"
        self.log = None

    def command(self):
        cmd = [bin_path("inferd-gateway"), "--host", self.host, "--http-port", "0"]
        for n in self.nodes:
            cmd += ["--node", n]
        return cmd + self.args

    def start(self, ready=True, timeout=READY_TIMEOUT_S):
        cmd = self.command()
        self.log = open(self.log_path, "ab")
        self.log.write(("=== %s\n" % " ".join(cmd)).encode())
        self.log.flush()
        self.proc = subprocess.Popen(cmd, stdout=self.log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, start_new_session=True,
                                     preexec_fn=lambda: LIBC.prctl(PR_SET_PDEATHSIG,
                                                                   signal.SIGKILL))
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.port is None:
            if self.proc.poll() is not None:
                raise AssertionError("inferd-gateway exited with %s:\n%s"
                                     % (self.proc.returncode, self.log_text()[-4000:]))
            m = re.search(r"listening on http port (\d+)", self.log_text())
            if m:
                self.port = int(m.group(1))
            else:
                time.sleep(0.02)
        if self.port is None:
            raise AssertionError("inferd-gateway logged no port:\n" + self.log_text()[-4000:])
        if ready:
            self.wait_status("/v2/health/ready", 200, timeout)
        return self

    def wait_status(self, path, status, timeout=10.0):
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            try:
                last = self.request("GET", path, timeout=2.0)[0]
                if last == status:
                    return
            except OSError:
                pass
            time.sleep(0.02)
        raise AssertionError("%s did not answer %d within %.0fs (last %s)"
                             % (path, status, timeout, last))

    def wait_nodes(self, pred, timeout=10.0):
        """Waits (bounded) until pred(list of /gateway/nodes entries) holds; returns it."""
        deadline = time.monotonic() + timeout
        nodes = None
        while time.monotonic() < deadline:
            nodes = self.nodes_json()
            if pred(nodes):
                return nodes
            time.sleep(0.02)
        raise AssertionError("/gateway/nodes never matched: %s" % json.dumps(nodes, indent=1))

    def nodes_json(self):
        status, _, body = self.request("GET", "/gateway/nodes")
        assert status == 200, body
        return json.loads(body)["nodes"]

    def stop(self, sig=signal.SIGTERM, timeout=STOP_TIMEOUT_S):
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            os.kill(self.proc.pid, sig)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)
        if self.log and not self.log.closed:
            self.log.close()
        report = sanitizer_report(self.log_text())
        if report:
            raise AssertionError("sanitizer report in %s:\n%s" % (self.log_path, report))
        return self.proc.returncode

    def log_text(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def request(self, method, path, body=None, headers=None, timeout=30.0):
        if isinstance(body, str):
            body = body.encode()
        conn = http.client.HTTPConnection(self.host, self.port, timeout=timeout)
        try:
            conn.request(method, path, body=body, headers=dict(headers or {}))
            resp = conn.getresponse()
            data = resp.read()
            return resp.status, {k.lower(): v for k, v in resp.getheaders()}, data
        finally:
            conn.close()


class FakeNode:
    """A node stand-in: ready, serving `models`, answering every other request with
    (status, body) — or with handler(method, path, headers, body) -> (status, body) — and
    recording what it got."""

    def __init__(self, status=200, body=b'{"result": "fake"}', models=("reverse",),
                 handler=None, ready=True, host="127.0.0.1", port=0):
        self.bind = (host, port)
        self.status = status
        self.body = body
        self.models = list(models)
        self.handler = handler
        self.ready = ready
        self.requests = []
        self.lock = threading.Lock()
        self.hung = False  # hang(): every request (health checks too) waits for release()
        self.released = threading.Event()
        self.server = None
        self.thread = None

    @property
    def address(self):
        return "%s:%d" % self.server.server_address[:2]

    def routed(self):
        """Requests other than the gateway's health checks and index reads."""
        with self.lock:
            return [r for r in self.requests
                    if r[1] not in ("/v2/health/ready", "/v2/repository/index")]

    def start(self):
        fake = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def answer(self):
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n) if n else b""
                if len(body) < n:  # the peer left mid-body: a real server never sees a request
                    self.close_connection = True
                    return
                hdrs = {k.lower(): v for k, v in self.headers.items()}
                with fake.lock:
                    fake.requests.append((self.command, self.path, hdrs, body))
                if fake.hung:
                    fake.released.wait(timeout=30)
                if self.path == "/v2/health/ready":
                    status, out = (200 if fake.ready else 503), b""
                elif self.path == "/v2/repository/index":
                    status = 200
                    out = json.dumps([{"name": m, "version": "1", "state": "READY"}
                                      for m in fake.models]).encode()
                elif fake.handler:
                    status, out = fake.handler(self.command, self.path, hdrs, body)
                else:
                    status, out = fake.status, fake.body
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(out)))
                self.end_headers()
                if self.command != "HEAD":  # HEAD: the GET's length, no body
                    self.wfile.write(out)

            do_GET = do_POST = do_HEAD = answer

        class QuietServer(http.server.ThreadingHTTPServer):
            daemon_threads = True

            def handle_error(self, request, client_address):
                pass  # the gateway closing a losing copy's connection is expected

        self.server = QuietServer(self.bind, Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        return self

    def hang(self):
        """From now on answers nothing (as a SIGSTOPped node) until release()."""
        self.released.clear()
        self.hung = True

    def release(self):
        self.hung = False
        self.released.set()

    def stop(self):
        self.release()
        if self.server:
            self.server.shutdown()
            self.server.server_close()
            self.server = None
