#!/usr/bin/python3
# The delay test: N requests of 1 s each to the `delay` model, all at once (N connections,
# one request each, asyncio), and the wall time until the last answer. Bounded by a timeout.
import asyncio
import json
import sys
import time


async def one(host, port, body, timeout):
    reader, writer = await asyncio.open_connection(host, port)
    req = ("POST /v2/models/delay/infer HTTP/1.1\r\nHost: bench\r\nContent-Type: application/json\r\n"
           "Content-Length: %d\r\nConnection: close\r\n\r\n" % len(body)).encode() + body
    writer.write(req)
    await writer.drain()
    data = await asyncio.wait_for(reader.read(), timeout)
    writer.close()
    return int(data.split(b" ", 2)[1]) if data.startswith(b"HTTP/1.1 ") else 0


async def main(host, port, n, delay_ms):
    body = json.dumps({"inputs": [{"name": "INPUT0", "datatype": "FP32", "shape": [1, 1],
                                   "data": [1.0]}],
                       "parameters": {"delay_ms": delay_ms}}).encode()
    start = time.monotonic()
    results = await asyncio.gather(*[one(host, port, body, 60) for _ in range(n)],
                                   return_exceptions=True)
    wall = time.monotonic() - start
    ok = sum(1 for r in results if r == 200)
    print("delay_test requests=%d concurrency=%d delay_ms=%d ok=%d failed=%d wall_s=%.3f"
          % (n, n, delay_ms, ok, n - ok, wall))
    return 0 if ok == n else 1


if __name__ == "__main__":
    host, port, n, delay_ms = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    sys.exit(asyncio.run(main(host, port, n, delay_ms)))
