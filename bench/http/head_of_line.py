#!/usr/bin/python3
# Head-of-line blocking on one loop: while one client sends a 32 MiB infer request (8 Mi FP32
# values, identity model, inferd --threads 1), another keeps sending GET /v2/health/live on
# its own connection; prints how many small requests were answered before the large answer's
# first byte and their latency (median, max). Give one or more build bin/ directories to
# compare them side by side in one run, e.g. before and after a change:
#     bench/http/head_of_line.py /work/main/build/bin build/bin
import json
import os
import select
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "tests", "integration"))
from rawhttp import Reader, request_bytes  # noqa: E402

N_VALUES = 8 << 20


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run(bindir, repo, body):
    port = free_port()
    proc = subprocess.Popen([os.path.join(bindir, "inferd"), "--host", "127.0.0.1",
                             "--http-port", str(port), "--threads", "1",
                             "--model-repository", repo, "--log-level", "warn"])
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
                    s.sendall(request_bytes("GET", "/v2/health/ready"))
                    if Reader(s).read_response().status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("inferd did not become ready")
            time.sleep(0.05)
        big = socket.create_connection(("127.0.0.1", port))
        small = socket.create_connection(("127.0.0.1", port))
        reader = Reader(small, timeout=120)
        t0 = time.monotonic()
        big.sendall(request_bytes("POST", "/v2/models/identity/infer", body))
        lat = []
        while not select.select([big], [], [], 0)[0] and time.monotonic() - t0 < 300:
            a = time.monotonic()
            small.sendall(request_bytes("GET", "/v2/health/live"))
            reader.read_response()
            lat.append(time.monotonic() - a)
        first = time.monotonic() - t0
        status = big.recv(64).split(b" ", 2)[1].decode()
        lat.sort()
        print("%-40s large: %s, first byte after %.2f s | small meanwhile: %d, median %.2f ms, "
              "max %.1f ms" % (bindir, status, first, len(lat),
                               lat[len(lat) // 2] * 1000 if lat else 0,
                               lat[-1] * 1000 if lat else 0))
        big.close()
        small.close()
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def main():
    bindirs = sys.argv[1:] or ["build/bin"]
    print("head_of_line: %d cores, %d FP32 values (%.0f MiB of JSON), inferd --threads 1"
          % (os.cpu_count(), N_VALUES, N_VALUES * 4 / (1 << 20)))
    with tempfile.TemporaryDirectory() as repo:
        os.makedirs(os.path.join(repo, "identity"))
        with open(os.path.join(repo, "identity", "config.json"), "w") as f:
            json.dump({"backend": "identity", "max_batch_size": 64,
                       "inputs": [{"name": "INPUT0", "datatype": "FP32", "dims": [-1]}],
                       "outputs": [{"name": "OUTPUT0", "datatype": "FP32", "dims": [-1]}]}, f)
        body = ('{"inputs": [{"name": "INPUT0", "datatype": "FP32", "shape": [1, %d], '
                '"data": [%s]}]}' % (N_VALUES, ",".join(["0.5"] * N_VALUES)))
        for bindir in bindirs:
            run(bindir, repo, body)


if __name__ == "__main__":
    main()
