# Bounded closed-loop load for the bed: C connections from the client namespace, each sending
# POST /process with a unique message and checking that the answer is that message's. Every
# request is recorded (send time, latency, status, error), so a scenario can prove that none
# was lost, none got another's answer, and when errors stopped.
import json
import threading
import time

from bed import process_body, expected_result


class Result:
    __slots__ = ("msg", "sent", "done", "status", "ok", "error")

    def __init__(self, msg, sent):
        self.msg, self.sent = msg, sent
        self.done, self.status, self.ok, self.error = None, None, False, None

    @property
    def latency(self):
        return self.done - self.sent


class Load:
    """Load(bed, ip, port).start(); ...; load.stop() -> results. Bounded by max_requests and
    max_seconds whatever happens; each request by timeout."""

    def __init__(self, bed, ip, port, conns=8, max_requests=20000, max_seconds=30.0,
                 timeout=10.0, headers=None, path="/process"):
        self.bed, self.ip, self.port = bed, ip, port
        self.conns, self.max_requests, self.max_seconds = conns, max_requests, max_seconds
        self.timeout, self.headers, self.path = timeout, dict(headers or {}), path
        self.results = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads = []
        self._issued = 0
        self.t0 = None

    def start(self):
        self.t0 = time.monotonic()
        for i in range(self.conns):
            t = threading.Thread(target=self._run, args=(i,), daemon=True)
            t.start()
            self._threads.append(t)
        return self

    def _take(self):
        with self._lock:
            if self._issued >= self.max_requests:
                return False
            self._issued += 1
            return True

    def _run(self, tid):
        conn = None
        seq = 0
        deadline = self.t0 + self.max_seconds
        while not self._stop.is_set() and time.monotonic() < deadline and self._take():
            msg = "%s c%d r%d" % (self.bed.tag, tid, seq)
            seq += 1
            r = Result(msg, time.monotonic())
            try:
                if conn is None:
                    conn = self.bed.connect(self.ip, self.port, timeout=self.timeout)
                conn.request("POST", self.path, body=process_body(msg), headers=self.headers)
                resp = conn.getresponse()
                body = resp.read()
                r.status = resp.status
                if resp.status == 200:
                    r.ok = json.loads(body).get("result") == expected_result(msg)
                    if not r.ok:
                        r.error = "wrong answer: %r" % body[:200]
                else:
                    r.error = "HTTP %d: %r" % (resp.status, body[:200])
                if resp.getheader("Connection", "").lower() == "close":
                    conn.close()
                    conn = None
            except Exception as e:  # noqa: BLE001 - every failure is a recorded result
                r.error = repr(e)
                if conn is not None:
                    conn.close()
                conn = None
            r.done = time.monotonic()
            with self._lock:
                self.results.append(r)
        if conn is not None:
            conn.close()

    def wait_count(self, n, timeout=30.0):
        """Waits (bounded) until n requests have completed."""
        deadline = time.monotonic() + timeout
        while len(self.results) < n and time.monotonic() < deadline and self.running():
            time.sleep(0.01)
        return len(self.results) >= n

    def running(self):
        return any(t.is_alive() for t in self._threads)

    def stop(self):
        self._stop.set()
        for t in self._threads:
            t.join(timeout=self.timeout + 5)
        assert not self.running(), "load threads did not stop"
        return self.results

    # ---- summaries ------------------------------------------------------------------------
    def errors(self, since=None):
        return [r for r in self.results if not r.ok and (since is None or r.sent >= since)]

    def check_exactly_once(self):
        """Every request issued has exactly one result, with its own unique message."""
        msgs = [r.msg for r in self.results]
        assert len(msgs) == len(set(msgs)), "a message recorded twice"
        assert len(msgs) == self._issued, "%d issued, %d answered" % (self._issued, len(msgs))
        for r in self.results:
            assert r.done is not None

    def latencies(self, since=None, until=None):
        return sorted(r.latency for r in self.results if r.ok and
                      (since is None or r.sent >= since) and (until is None or r.sent < until))


def percentile(sorted_values, p):
    if not sorted_values:
        return float("nan")
    i = min(len(sorted_values) - 1, int(p / 100.0 * len(sorted_values)))
    return sorted_values[i]


def summary(load, t_fault=None):
    """A dict of figures for bench tables: count, errors, p50/p99 (ms), recovery (s)."""
    errs = load.errors()
    lat = load.latencies()
    rec = None
    if t_fault is not None:
        rec = max((r.done for r in errs if r.done >= t_fault), default=t_fault) - t_fault
    return {"requests": len(load.results), "errors": len(errs),
            "p50_ms": percentile(lat, 50) * 1e3, "p99_ms": percentile(lat, 99) * 1e3,
            "recovery_s": rec,
            "first_errors": sorted(set(e.error for e in errs))[:3]}
