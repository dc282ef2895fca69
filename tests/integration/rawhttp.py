# Raw HTTP/1.1 over a socket for tests that need control of the bytes: pipelining,
# malformed requests, slow clients. Every read has a timeout.
import socket
import time


class Response:
    def __init__(self, status, reason, headers, body):
        self.status = status
        self.reason = reason
        self.headers = headers  # lower-case names
        self.body = body

    def __repr__(self):
        return "Response(%d %s, %r)" % (self.status, self.reason, self.body[:200])


class Reader:
    """Reads successive responses from one socket."""

    def __init__(self, sock, timeout=10.0):
        self.sock = sock
        self.buf = b""
        self.timeout = timeout
        self.eof = False

    def _fill(self, deadline):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError("no complete response in time; have %r" % self.buf[:200])
        self.sock.settimeout(remaining)
        data = self.sock.recv(65536)
        if not data:
            self.eof = True
            raise ConnectionError("connection closed; have %r" % self.buf[:200])
        self.buf += data

    def read_response(self, head_request=False):
        deadline = time.monotonic() + self.timeout
        while b"\r\n\r\n" not in self.buf:
            self._fill(deadline)
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        version, status, reason = (lines[0].split(" ", 2) + [""])[:3]
        assert version.startswith("HTTP/1."), lines[0]
        headers = {}
        for line in lines[1:]:
            k, v = line.split(":", 1)
            headers[k.strip().lower()] = v.strip()
        n = 0 if head_request else int(headers.get("content-length", "0"))
        while len(self.buf) < n:
            self._fill(deadline)
        body, self.buf = self.buf[:n], self.buf[n:]
        status = int(status)
        if status == 100:  # interim: the real response follows
            return self.read_response(head_request)
        return Response(status, reason, headers, body)

    def closed_by_peer(self, timeout=5.0):
        """True if the peer closes (EOF or reset) within timeout, reading and dropping data."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.sock.settimeout(max(0.01, deadline - time.monotonic()))
            try:
                data = self.sock.recv(65536)
            except socket.timeout:
                return False
            except (ConnectionResetError, BrokenPipeError):
                return True
            if not data:
                return True
            self.buf += data
        return False


def request_bytes(method, path, body=b"", headers=None, version="HTTP/1.1"):
    if isinstance(body, str):
        body = body.encode()
    hdrs = {"Host": "test"}
    if body or method == "POST":
        hdrs["Content-Length"] = str(len(body))
    hdrs.update(headers or {})
    text = "%s %s %s\r\n" % (method, path, version)
    text += "".join("%s: %s\r\n" % (k, v) for k, v in hdrs.items() if v is not None)
    return text.encode() + b"\r\n" + body
