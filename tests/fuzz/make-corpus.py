#!/usr/bin/python3
# Regenerates the seed corpora of tests/fuzz/corpus/<target>/ (small, valid inputs the fuzzers
# start from; crash reproducers added by hand are kept). Usage:
#   tests/fuzz/make-corpus.py BUILD_FUZZ_DIR     (needs its bin/fuzz_shm_seed)
import json
import os
import shutil
import struct
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
CORPUS = os.path.join(HERE, "corpus")


def put(target, name, data):
    d = os.path.join(CORPUS, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())


def kserve_bodies():
    b = {}
    b["fp32_flat"] = {"inputs": [{"name": "INPUT0", "datatype": "FP32", "shape": [2, 3],
                                  "data": [1.5, -2, 3e-3, 0, 1e38, -0.0]}]}
    b["fp32_nested"] = {"id": "r1", "inputs": [{"name": "INPUT0", "datatype": "FP32",
                                                "shape": [2, 2], "data": [[1, 2], [3, 4]]}],
                        "outputs": [{"name": "OUTPUT0"}]}
    b["bytes"] = {"inputs": [{"name": "INPUT0", "datatype": "BYTES", "shape": [3],
                              "data": ["abc", "", "\u00fcn\u00efc\u00f6d\u00e9 \"q\" \\"]}]}
    b["digits"] = {"inputs": [{"name": "input", "datatype": "FP32", "shape": [1, 64],
                               "data": [float(i % 17) for i in range(64)]}],
                   "parameters": {"timeout": 1000, "priority": 1}}
    b["unbatched"] = {"inputs": [
        {"name": "A", "datatype": "INT64", "shape": [2, 2], "data": [-9223372036854775808, 1, 2, 3]},
        {"name": "B", "datatype": "BOOL", "shape": [3], "data": [True, False, True]},
        {"name": "C", "datatype": "FP16", "shape": [3], "data": [1.0, 65504, -0.5]},
        {"name": "D", "datatype": "BYTES", "shape": [1, 2], "data": ["x", "yz"]}],
        "outputs": [{"name": "Y"}]}
    b["all_types"] = {"inputs": [
        {"name": "I8", "datatype": "INT8", "shape": [1, 2, 2], "data": [-128, 127, 0, 1]},
        {"name": "U16", "datatype": "UINT16", "shape": [1, 2], "data": [0, 65535]},
        {"name": "I16", "datatype": "INT16", "shape": [1, 1], "data": [-32768]},
        {"name": "I32", "datatype": "INT32", "shape": [1, 1], "data": [2147483647]},
        {"name": "U32", "datatype": "UINT32", "shape": [1, 1], "data": [4294967295]},
        {"name": "U64", "datatype": "UINT64", "shape": [1, 1], "data": [18446744073709551615]},
        {"name": "F64", "datatype": "FP64", "shape": [1, 2], "data": [1e-300, 2.5]},
        {"name": "BF", "datatype": "BF16", "shape": [1, 1], "data": [3.0]}]}
    return b


def binary_bodies():
    """Seeds of fuzz_kserve_binary: "<Inference-Header-Content-Length>\\n<body>"."""
    def framed(header, *parts):
        head = json.dumps(header).encode()
        return str(len(head)).encode() + b"\n" + head + b"".join(parts)
    a = struct.pack("<2i", 7, -1)
    b = struct.pack("<I", 2) + b"hi" + struct.pack("<I", 0)
    h = struct.pack("<2H", 0x3C00, 0xC000)
    def inp(name, dt, size):
        return {"name": name, "datatype": dt, "shape": [1, 2],
                "parameters": {"binary_data_size": size}}
    r = {}
    r["three_binary"] = framed({"inputs": [inp("A", "INT32", 8), inp("B", "BYTES", 10),
                                           inp("H", "FP16", 4)],
                                "parameters": {"binary_data_output": True}}, a, b, h)
    r["mixed"] = framed({"inputs": [{"name": "A", "datatype": "INT32", "shape": [1, 2],
                                     "data": [7, -1]}, inp("B", "BYTES", 10),
                                    inp("H", "FP16", 4)],
                         "outputs": [{"name": "X", "parameters": {"binary_data": True}},
                                     {"name": "Y"}]}, b, h)
    r["fp32_batched"] = framed({"inputs": [{"name": "INPUT0", "datatype": "FP32",
                                            "shape": [2, 2, 1],
                                            "parameters": {"binary_data_size": 16}}]},
                               struct.pack("<4f", 1, 2, 3, 4))
    r["raw_fp32"] = b"0\n" + struct.pack("<6f", 1, 2, 3, 4, 5, 6)
    r["no_header"] = json.dumps({"inputs": [{"name": "INPUT0", "datatype": "FP32",
                                             "shape": [1, 2, 1], "data": [1, 2]}]}).encode()
    return r


def http_requests():
    body = json.dumps(kserve_bodies()["fp32_flat"])
    r = {}
    r["get_health"] = "GET /v2/health/ready HTTP/1.1\r\nHost: x\r\n\r\n"
    r["post_infer"] = ("POST /v2/models/identity/infer HTTP/1.1\r\nHost: x\r\n"
                       "Content-Type: application/json\r\nContent-Length: %d\r\n\r\n%s"
                       % (len(body), body))
    r["pipelined"] = ("GET /a HTTP/1.1\r\n\r\nGET /later/b HTTP/1.1\r\n\r\n"
                      "POST /c HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc"
                      "GET /later/d HTTP/1.1\r\n\r\nGET /e HTTP/1.1\r\n\r\n"
                      "GET /f HTTP/1.1\r\nConnection: close\r\n\r\n")
    r["chunked"] = ("POST /later/x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
                    "5\r\nhello\r\n7;ext=1\r\n, world\r\n0\r\nTrailer: t\r\n\r\n"
                    "GET /y HTTP/1.1\r\n\r\n")
    r["http10"] = "GET /z HTTP/1.0\r\nConnection: keep-alive\r\n\r\nHEAD /z HTTP/1.0\r\n\r\n"
    r["expect"] = ("PUT /up HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 4\r\n"
                   "Content-Type: error\r\n\r\nbody")
    r["too_large"] = "POST /big HTTP/1.1\r\nContent-Length: 99999999\r\n\r\nxx"
    r["bad"] = "GET /x HTTP/2.0\r\n\r\n"
    r["upgrade"] = "GET /ws HTTP/1.1\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n"
    return r


def onnx_models(target):
    try:
        import onnx
        from onnx import TensorProto, helper, numpy_helper
        import numpy as np
    except ImportError:
        print("make-corpus: python3-onnx missing; ONNX seeds skipped", file=sys.stderr)
        return
    def save(name, nodes, inputs, outputs, inits=(), opset=13):
        g = helper.make_graph(nodes, name, inputs, outputs, list(inits))
        m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)],
                              producer_name="inferd-fuzz")
        put(target, name + ".onnx", m.SerializeToString())
    f = TensorProto.FLOAT
    vi = helper.make_tensor_value_info
    save("add", [helper.make_node("Add", ["x", "y"], ["z"])],
         [vi("x", f, ["batch", 3]), vi("y", f, [1, 3])], [vi("z", f, ["batch", 3])])
    w = numpy_helper.from_array(np.arange(12, dtype=np.float32).reshape(3, 4), "w")
    b = numpy_helper.from_array(np.ones(4, dtype=np.float32), "b")
    save("gemm_relu_softmax", [helper.make_node("Gemm", ["x", "w", "b"], ["h"]),
                               helper.make_node("Relu", ["h"], ["r"]),
                               helper.make_node("Softmax", ["r"], ["p"], axis=1)],
         [vi("x", f, ["batch", 3])], [vi("p", f, ["batch", 4])], [w, b])
    k = numpy_helper.from_array(np.ones((2, 1, 3, 3), dtype=np.float32), "k")
    shape = numpy_helper.from_array(np.array([-1, 32], dtype=np.int64), "shape")
    save("conv_pool_reshape",
         [helper.make_node("Conv", ["x", "k"], ["c"], pads=[1, 1, 1, 1]),
          helper.make_node("MaxPool", ["c"], ["m"], kernel_shape=[2, 2], strides=[2, 2]),
          helper.make_node("Reshape", ["m", "shape"], ["y"])],
         [vi("x", f, ["batch", 1, 8, 8])], [vi("y", f, ["batch", 32])], [k, shape])
    idx = numpy_helper.from_array(np.array([0, 2], dtype=np.int64), "idx")
    save("gather_concat_cast",
         [helper.make_node("Gather", ["x", "idx"], ["g"], axis=1),
          helper.make_node("Concat", ["g", "g"], ["c"], axis=1),
          helper.make_node("Cast", ["c"], ["y"], to=TensorProto.INT32)],
         [vi("x", f, [2, 3])], [vi("y", TensorProto.INT32, [2, 4])], [idx])
    shutil.copy(os.path.join(ROOT, "models/digits/1/model.onnx"),
                os.path.join(CORPUS, target, "digits.onnx"))


def batch_check_seeds(target):
    # header: n_requests-1, n_inputs, n_outputs, out_cap (u16 BE), model, worker, polls; claim_pos
    def tensor(dtype, dims, offset, nbytes):
        d = list(dims) + [0] * (8 - len(dims))
        return struct.pack("<II8qQQ", dtype, len(dims), *d, offset, nbytes)
    def request(status):
        return struct.pack("<QqqiI", 7, 0, -1, status, 0)
    # one request, no inputs, one FP32 output [1, 4] at the start of the output area
    table = request(0) + tensor(1, [1, 4], 128, 16)
    hdr = bytes([0, 0, 1, 0, 64, 0, 0, 1]) + struct.pack("<Q", 0)
    table = table.ljust(128, b"\0")   # table then padding up to out_off = 128
    put(target, "one_fp32", hdr + table[:32 + 88] + struct.pack("<4f", 1, 2, 3, 4))
    # two requests, one BYTES output each; the second request failed
    t2 = (request(0) + request(1) + tensor(8, [1, 2], 256, 13) + tensor(8, [1], 256, 4))
    hdr = bytes([1, 0, 1, 0, 64, 1, 1, 3]) + struct.pack("<Q", 1)
    put(target, "bytes_two", hdr + t2 + struct.pack("<I", 3) + b"abc" + struct.pack("<I", 2) + b"de")


def shm_attach_seeds(build, target):
    tool = os.path.join(build, "bin", "fuzz_shm_seed")
    d = os.path.join(CORPUS, target)
    os.makedirs(d, exist_ok=True)
    for name, args in (("min", "1 1 1 2 2 64"), ("small", "2 2 4 4 4 256")):
        subprocess.run([tool, os.path.join(d, name)] + args.split(), check=True)


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: make-corpus.py BUILD_FUZZ_DIR")
    for name, body in kserve_bodies().items():
        put("fuzz_kserve_json", name + ".json", json.dumps(body))
        put("fuzz_kserve_decode", name + ".json", json.dumps(body))
    for name, body in binary_bodies().items():
        put("fuzz_kserve_binary", name + ".bin", body)
    for name, req in http_requests().items():
        put("fuzz_http_request", name + ".http", req)
    models = os.path.join(ROOT, "models")
    for m in sorted(os.listdir(models)):
        cfg = os.path.join(models, m, "config.json")
        if os.path.exists(cfg):
            shutil.copy(cfg, os.path.join(CORPUS, "fuzz_model_config", m + ".json"))
    onnx_models("fuzz_onnx_load")
    batch_check_seeds("fuzz_shm_batch_check")
    shm_attach_seeds(sys.argv[1], "fuzz_shm_attach")


if __name__ == "__main__":
    main()
