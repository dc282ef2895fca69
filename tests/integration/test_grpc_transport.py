# The gRPC port as a transport: 32 MiB tensors both ways (HTTP/2 flow control), keep-alive
# PING answered, and clients that speak garbage (bad frames, HTTP/1.1, a cut preface) get a
# GOAWAY or a close while the node keeps serving everyone else.
import socket
import struct

import numpy as np
import pytest

import grpcstubs

pb, rpc = grpcstubs.load()
PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
IDENTITY = {"backend": "identity", "max_batch_size": 4,
            "inputs": [{"name": "INPUT0", "datatype": "FP32", "dims": [-1]}],
            "outputs": [{"name": "OUTPUT0", "datatype": "FP32", "dims": [-1]}],
            "workers": {"min": 1, "max": 1}}


def frame(ftype, flags, stream, payload=b""):
    return struct.pack(">I", len(payload))[1:] + bytes([ftype, flags]) + \
        struct.pack(">I", stream) + payload


def read_frames(sock, want_type, limit=64):
    """Reads frames until one of want_type arrives (returned) or the peer closes (None)."""
    buf = b""
    for _ in range(limit):
        while len(buf) < 9:
            chunk = sock.recv(65536)
            if not chunk:
                return None
            buf += chunk
        length = int.from_bytes(buf[:3], "big")
        while len(buf) < 9 + length:
            chunk = sock.recv(65536)
            if not chunk:
                return None
            buf += chunk
        ftype, flags, payload = buf[3], buf[4], buf[9:9 + length]
        buf = buf[9 + length:]
        if ftype == want_type:
            return flags, payload
    return None


def raw_conn(n):
    s = socket.create_connection((n.host, int(n.grpc_target.rsplit(":", 1)[1])), timeout=10)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def assert_serves(n):
    with grpcstubs.channel(n) as ch:
        s = rpc.GRPCInferenceServiceStub(ch)
        assert s.ServerLive(pb.ServerLiveRequest(), timeout=10).live


def test_32mib_tensors(node, model_repo):
    n = node(repo=model_repo({"identity": IDENTITY}), args=["--arena-mb", "256"])
    x = np.random.default_rng(7).random((1, 8 << 20), dtype=np.float32)  # 32 MiB
    with grpcstubs.channel(n) as ch:
        s = rpc.GRPCInferenceServiceStub(ch)
        for _ in range(2):
            r = s.ModelInfer(grpcstubs.infer_request(pb, "identity", [x]), timeout=120)
            assert len(r.raw_output_contents[0]) == 32 << 20
            assert np.array_equal(grpcstubs.output_array(r, 0), x)


def test_ping_is_answered(node):
    n = node()
    with raw_conn(n) as s:
        s.sendall(PREFACE + frame(4, 0, 0) + frame(6, 0, 0, b"inferd!!"))
        got = read_frames(s, 6)
        assert got is not None and got[0] & 1 and got[1] == b"inferd!!"  # PING ACK, same data


def test_server_keepalive_ping(node):
    n = node(args=["--grpc-keepalive-ms", "500"])
    with raw_conn(n) as s:
        s.sendall(PREFACE + frame(4, 0, 0))
        got = read_frames(s, 6)  # the node pings an idle connection (bounded by the timeout)
        assert got is not None and not got[0] & 1  # a PING, not an ACK
        s.sendall(frame(6, 1, 0, got[1]))  # answered: the connection stays
    assert_serves(n)


@pytest.mark.parametrize("garbage", [
    PREFACE + frame(4, 0, 0) + b"\xff" * 64,                # a frame header of nonsense
    PREFACE + frame(4, 0, 0) + frame(1, 4, 2, b"\x00"),     # HEADERS on an even stream id
    PREFACE + frame(4, 0, 0) + frame(4, 0, 1, b"\x00" * 6),  # SETTINGS on a stream
    PREFACE + frame(4, 0, 0) + frame(8, 0, 0, b"\x00" * 4),  # WINDOW_UPDATE of 0
])
def test_protocol_errors_get_goaway(node, garbage):
    n = node()
    with raw_conn(n) as s:
        s.sendall(garbage)
        got = read_frames(s, 7)  # GOAWAY
        assert got is not None
        error_code = int.from_bytes(got[1][4:8], "big")
        assert error_code != 0  # not NO_ERROR
        s.settimeout(10)
        while s.recv(65536):  # then the node closes the connection
            pass
    assert_serves(n)


@pytest.mark.parametrize("garbage", [
    b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
    b"PRI * HTTP/2.0\r\n\r\nXX\r\n\r\n",
    bytes(range(256)) * 8,
])
def test_not_http2_is_closed(node, garbage):
    n = node()
    with raw_conn(n) as s:
        s.sendall(garbage)
        s.settimeout(10)
        try:
            while s.recv(65536):
                pass
        except ConnectionResetError:
            pass
    assert_serves(n)


def test_non_grpc_request_on_h2(node):
    """An HTTP/2 request that is not gRPC (no application/grpc) is answered with a gRPC
    status, not left hanging."""
    n = node()
    # HPACK: :method POST (idx 3), :scheme http (idx 6), :path / (idx 4), :authority literal
    headers = bytes([0x83, 0x86, 0x84, 0x41, 0x01, ord("x")])
    with raw_conn(n) as s:
        s.sendall(PREFACE + frame(4, 0, 0) + frame(1, 0x5, 1, headers))
        got = read_frames(s, 1)  # the response HEADERS (trailers-only)
        assert got is not None and got[0] & 1  # END_STREAM
    assert_serves(n)


def test_grpc_port_off_and_logged(node):
    n = node(args=["--grpc-port", "off"])
    assert n.grpc_port is None and "grpc://" not in n.log_text()
    n2 = node()
    port = int(n2.grpc_target.rsplit(":", 1)[1])  # waits (bounded) for the log line
    assert port and port != 8001
