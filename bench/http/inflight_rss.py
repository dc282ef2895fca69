#!/usr/bin/python3
# Request bytes in memory: 30 clients each send an 8 MiB body but its last byte and hold it;
# the node's peak RSS without a byte budget beside --max-inflight-bytes 40 MiB, in one run.
#   bench/http/inflight_rss.py [BIN_DIR]      (default build/bin)
import http.client
import json
import os
import socket
import subprocess
import sys
import tempfile
import time

CLIENTS, BODY = 30, 8 << 20


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run(bin_dir, repo, extra):
    port = free_port()
    p = subprocess.Popen([os.path.join(bin_dir, "inferd"), "--host", "127.0.0.1", "--http-port",
                          str(port), "--model-repository", repo, "--log-level", "warn"] + extra,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                         start_new_session=True)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                c = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
                c.request("GET", "/v2/health/ready")
                if c.getresponse().status == 200:
                    break
            except OSError:
                time.sleep(0.05)
        socks, refused = [], 0
        for _ in range(CLIENTS):
            s = socket.create_connection(("127.0.0.1", port), timeout=5)
            s.sendall(b"POST /process HTTP/1.1\r\nHost: b\r\nContent-Length: %d\r\n\r\n" % BODY)
            try:
                s.sendall(b"a" * (BODY - 1))
            except OSError:
                pass                # answered 503 and closed before the body was read
            socks.append(s)
        time.sleep(1)               # let the node read what was sent
        with open("/proc/%d/status" % p.pid) as f:
            hwm = [int(l.split()[1]) for l in f if l.startswith("VmHWM")][0]
        for s in socks:
            s.settimeout(0.5)
            try:
                refused += s.recv(64).startswith(b"HTTP/1.1 503")
            except OSError:
                pass
            s.close()
        return hwm / 1024, refused
    finally:
        p.terminate()
        p.wait(timeout=15)


def main():
    bin_dir = sys.argv[1] if len(sys.argv) > 1 else "build/bin"
    repo = tempfile.mkdtemp()
    os.mkdir(os.path.join(repo, "reverse"))
    with open(os.path.join(repo, "reverse", "config.json"), "w") as f:
        json.dump({"backend": "reverse", "workers": {"min": 1, "max": 1}}, f)
    print("inflight_rss: %d clients x %d MiB bodies held, cores=%d" % (CLIENTS, BODY >> 20,
                                                                       os.cpu_count()))
    for extra in (["--max-inflight-bytes", str(1 << 40)], ["--max-inflight-bytes", str(40 << 20)]):
        rss, refused = run(bin_dir, repo, extra + ["--max-body-bytes", str(64 << 20)])
        print("  %-36s peak RSS %5.0f MiB, refused %d of %d" % (" ".join(extra), rss, refused,
                                                                CLIENTS))


main()
