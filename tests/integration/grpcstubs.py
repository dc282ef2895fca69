"""gRPC stubs for the integration tests, generated at test time from the project's own
proto/ (grpc_tools.protoc into a temp dir), and small helpers to build requests.

    pb, rpc = grpcstubs.load()
    with grpcstubs.channel(node) as ch:
        stub = rpc.GRPCInferenceServiceStub(ch)
"""
import atexit
import importlib
import os
import shutil
import subprocess
import sys
import tempfile

import grpc
import numpy as np

SOURCE_DIR = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
PROTO_DIR = os.path.join(SOURCE_DIR, "proto")
MB64 = 64 << 20

_cache = {}


def load():
    """(grpc_service_pb2, grpc_service_pb2_grpc), generated once per test process."""
    if "mods" in _cache:
        return _cache["mods"]
    out = tempfile.mkdtemp(prefix="inferd-grpc-stubs-")
    atexit.register(shutil.rmtree, out, True)
    subprocess.run([sys.executable, "-m", "grpc_tools.protoc", "-I", PROTO_DIR,
                    "--python_out", out, "--grpc_python_out", out,
                    os.path.join(PROTO_DIR, "grpc_service.proto"),
                    os.path.join(PROTO_DIR, "model_config.proto")],
                   check=True, timeout=120)
    sys.path.insert(0, out)
    pb = importlib.import_module("grpc_service_pb2")
    rpc = importlib.import_module("grpc_service_pb2_grpc")
    _cache["mods"] = (pb, rpc)
    return pb, rpc


def channel(node, max_bytes=MB64):
    return grpc.insecure_channel(node.grpc_target, options=[
        ("grpc.max_send_message_length", max_bytes),
        ("grpc.max_receive_message_length", max_bytes),
        ("grpc.enable_retries", 0)])


def infer_request(pb, model, arrays, names=None, datatype=None, rid="", typed=False,
                  params=None, outputs=None):
    """A ModelInferRequest with the numpy arrays as inputs (raw_input_contents, or the typed
    contents field when typed=True)."""
    req = pb.ModelInferRequest(model_name=model, id=rid)
    for i, a in enumerate(arrays):
        a = np.asarray(a)
        dt = datatype or {"float32": "FP32", "int64": "INT64", "int32": "INT32", "float16": "FP16",
                          "object": "BYTES", "bool": "BOOL"}[str(a.dtype)]
        t = req.inputs.add(name=(names or ["INPUT%d" % k for k in range(len(arrays))])[i],
                           datatype=dt, shape=list(a.shape))
        if dt == "BYTES":
            items = [x if isinstance(x, bytes) else str(x).encode() for x in a.reshape(-1)]
            if typed:
                t.contents.bytes_contents.extend(items)
            else:
                req.raw_input_contents.append(
                    b"".join(len(x).to_bytes(4, "little") + x for x in items))
        elif typed:
            field = {"FP32": "fp32_contents", "INT64": "int64_contents",
                     "INT32": "int_contents", "BOOL": "bool_contents"}[dt]
            getattr(t.contents, field).extend(a.reshape(-1).tolist())
        else:
            req.raw_input_contents.append(np.ascontiguousarray(a).tobytes())
    for k, v in (params or {}).items():
        if isinstance(v, bool):
            req.parameters[k].bool_param = v
        elif isinstance(v, int):
            req.parameters[k].int64_param = v
        else:
            req.parameters[k].string_param = v
    for name in outputs or []:
        req.outputs.add(name=name)
    return req


def output_array(resp, i, dtype=np.float32):
    o = resp.outputs[i]
    return np.frombuffer(resp.raw_output_contents[i], dtype=dtype).reshape(list(o.shape))


def bytes_elements(raw):
    out, pos = [], 0
    while pos < len(raw):
        n = int.from_bytes(raw[pos:pos + 4], "little")
        out.append(raw[pos + 4:pos + 4 + n])
        pos += 4 + n
    return out
