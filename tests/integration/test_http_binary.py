# Triton's binary tensor extension over HTTP, as a client sees it: every datatype round trip
# (BOOL one byte, BYTES 4-byte length + bytes, FP16/BF16 which JSON cannot carry), binary and
# JSON inputs and outputs mixed in one request, the raw form, a 32 MiB tensor through
# python3-requests, and a 400 naming the problem for every mismatch, with the connection
# still usable afterwards.
import json
import os
import struct

import numpy as np
import onnx
import requests
from onnx import TensorProto, helper

import rawhttp

# datatype -> (numpy dtype or None for BYTES/BF16, sample values)
DTYPES = {
    "BOOL": (np.bool_, [True, False, True]),
    "UINT8": (np.uint8, [0, 7, 255]),
    "UINT16": (np.uint16, [0, 700, 65535]),
    "UINT32": (np.uint32, [0, 7, 4294967295]),
    "UINT64": (np.uint64, [0, 7, 18446744073709551615]),
    "INT8": (np.int8, [-128, 0, 127]),
    "INT16": (np.int16, [-32768, 1, 32767]),
    "INT32": (np.int32, [-2147483648, 1, 2147483647]),
    "INT64": (np.int64, [-9223372036854775808, 1, 9223372036854775807]),
    "FP16": (np.float16, [1.5, -2.0, 65504.0]),
    "FP32": (np.float32, [1.25, -0.0, 3.4e38]),
    "FP64": (np.float64, [1e-300, -2.5, 1e300]),
}


def bytes_elements(items):
    return b"".join(struct.pack("<I", len(s)) + s for s in items)


def identity_cfg(dtype, batch=8, dims=None):
    return {"backend": "identity", "max_batch_size": batch,
            "inputs": [{"name": "INPUT0", "datatype": dtype, "dims": dims or [-1]}],
            "outputs": [{"name": "OUTPUT0", "datatype": dtype, "dims": dims or [-1]}],
            "workers": {"min": 1, "max": 1}}


def binary_body(header, *parts):
    head = json.dumps(header).encode()
    return head + b"".join(parts), {"Inference-Header-Content-Length": str(len(head)),
                                    "Content-Type": "application/octet-stream"}


def split_response(headers, body):
    """(json header, binary rest) of a binary response."""
    n = int(headers["inference-header-content-length"])
    return json.loads(body[:n]), body[n:]


def test_every_datatype_round_trips_as_binary(node, model_repo):
    models = {"id_" + dt.lower(): identity_cfg(dt) for dt in list(DTYPES) + ["BF16", "BYTES"]}
    n = node(repo=model_repo(models))
    status, meta = n.get_json("/v2")
    assert "binary_tensor_data" in meta["extensions"]
    for dt in list(DTYPES) + ["BF16", "BYTES"]:
        if dt == "BYTES":
            raw = bytes_elements([b"ab", b"", b"\x00\xffz"])
        elif dt == "BF16":
            raw = struct.pack("<3H", 0x3f80, 0xc000, 0x7f7f)  # 1.0, -2.0, max
        else:
            raw = np.array(DTYPES[dt][1], dtype=DTYPES[dt][0]).tobytes()
        body, hdrs = binary_body(
            {"inputs": [{"name": "INPUT0", "datatype": dt, "shape": [1, 3],
                         "parameters": {"binary_data_size": len(raw)}}],
             "outputs": [{"name": "OUTPUT0", "parameters": {"binary_data": True}}]}, raw)
        status, headers, data = n.request("POST", "/v2/models/id_%s/infer" % dt.lower(),
                                          body=body, headers=hdrs)
        assert status == 200, (dt, data)
        assert headers["content-type"] == "application/octet-stream"
        head, rest = split_response(headers, data)
        out = head["outputs"][0]
        assert out["datatype"] == dt and out["shape"] == [1, 3]
        assert "data" not in out
        assert out["parameters"]["binary_data_size"] == len(raw)
        assert rest == raw, dt


def test_binary_in_json_out_and_json_in_binary_out(node, model_repo):
    n = node(repo=model_repo({"ident": identity_cfg("FP32")}))
    vals = np.array([[0.5, -1.25, 3.0, 1e-7]], dtype=np.float32)
    # binary input, JSON output (no output named: the default is JSON)
    body, hdrs = binary_body({"id": "q1", "inputs": [
        {"name": "INPUT0", "datatype": "FP32", "shape": [1, 4],
         "parameters": {"binary_data_size": 16}}]}, vals.tobytes())
    status, headers, data = n.request("POST", "/v2/models/ident/infer", body=body, headers=hdrs)
    assert status == 200, data
    assert "inference-header-content-length" not in headers
    out = json.loads(data)
    assert out["id"] == "q1"
    assert np.array(out["outputs"][0]["data"], dtype=np.float32).tobytes() == vals.tobytes()
    # JSON input, binary output through the request-level binary_data_output
    status, headers, data = n.request("POST", "/v2/models/ident/infer", body={
        "inputs": [{"name": "INPUT0", "datatype": "FP32", "shape": [1, 4],
                    "data": vals.ravel().tolist()}],
        "parameters": {"binary_data_output": True}})
    assert status == 200, data
    head, rest = split_response(headers, data)
    assert head["outputs"][0]["parameters"]["binary_data_size"] == 16
    assert rest == vals.tobytes()
    # per-output binary_data: false overrides binary_data_output
    status, headers, data = n.request("POST", "/v2/models/ident/infer", body={
        "inputs": [{"name": "INPUT0", "datatype": "FP32", "shape": [1, 4],
                    "data": vals.ravel().tolist()}],
        "parameters": {"binary_data_output": True},
        "outputs": [{"name": "OUTPUT0", "parameters": {"binary_data": False}}]})
    assert status == 200 and "inference-header-content-length" not in headers
    assert len(json.loads(data)["outputs"][0]["data"]) == 4


def write_two_output_model(root):
    """ONNX model: SUM = A + B and COPY = A, FP32 [-1] each, not batched."""
    a = helper.make_tensor_value_info("A", TensorProto.FLOAT, [None])
    b = helper.make_tensor_value_info("B", TensorProto.FLOAT, [None])
    s = helper.make_tensor_value_info("SUM", TensorProto.FLOAT, None)
    c = helper.make_tensor_value_info("COPY", TensorProto.FLOAT, None)
    g = helper.make_graph([helper.make_node("Add", ["A", "B"], ["SUM"]),
                           helper.make_node("Identity", ["A"], ["COPY"])], "two", [a, b], [s, c])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
    os.makedirs(os.path.join(root, "two", "1"))
    onnx.save(m, os.path.join(root, "two", "1", "model.onnx"))
    cfg = {"backend": "onnx", "max_batch_size": 0,
           "inputs": [{"name": "A", "datatype": "FP32", "dims": [-1]},
                      {"name": "B", "datatype": "FP32", "dims": [-1]}],
           "outputs": [{"name": "SUM", "datatype": "FP32", "dims": [-1]},
                       {"name": "COPY", "datatype": "FP32", "dims": [-1]}],
           "workers": {"min": 1, "max": 1}}
    with open(os.path.join(root, "two", "config.json"), "w") as f:
        json.dump(cfg, f)


def test_mixed_json_and_binary_inputs_and_outputs(node, tmp_path):
    root = str(tmp_path / "repo")
    os.makedirs(root)
    write_two_output_model(root)
    n = node(repo=root)
    a = np.array([1.0, 2.0, 3.0], dtype=np.float32)
    b = np.array([0.5, 0.25, -3.0], dtype=np.float32)
    body, hdrs = binary_body({
        "inputs": [{"name": "A", "datatype": "FP32", "shape": [3], "data": a.tolist()},
                   {"name": "B", "datatype": "FP32", "shape": [3],
                    "parameters": {"binary_data_size": 12}}],
        "outputs": [{"name": "COPY"}, {"name": "SUM", "parameters": {"binary_data": True}}]},
        b.tobytes())
    status, headers, data = n.request("POST", "/v2/models/two/infer", body=body, headers=hdrs)
    assert status == 200, data
    head, rest = split_response(headers, data)
    outs = {o["name"]: o for o in head["outputs"]}
    assert outs["COPY"]["data"] == a.tolist()
    assert outs["SUM"]["parameters"]["binary_data_size"] == 12
    assert rest == (a + b).tobytes()
    # both binary: bytes follow in the order of the outputs in the JSON header
    body, hdrs = binary_body({
        "inputs": [{"name": "A", "datatype": "FP32", "shape": [3],
                    "parameters": {"binary_data_size": 12}},
                   {"name": "B", "datatype": "FP32", "shape": [3],
                    "parameters": {"binary_data_size": 12}}],
        "parameters": {"binary_data_output": True}}, a.tobytes(), b.tobytes())
    status, headers, data = n.request("POST", "/v2/models/two/infer", body=body, headers=hdrs)
    assert status == 200, data
    head, rest = split_response(headers, data)
    pos = 0
    want = {"SUM": (a + b).tobytes(), "COPY": a.tobytes()}
    for o in head["outputs"]:
        size = o["parameters"]["binary_data_size"]
        assert rest[pos:pos + size] == want[o["name"]]
        pos += size
    assert pos == len(rest)


def test_raw_binary_form(node, model_repo):
    n = node(repo=model_repo({"ident": identity_cfg("FP32"),
                              "strs": identity_cfg("BYTES", batch=0, dims=[-1])}))
    vals = np.arange(6, dtype=np.float32)
    status, headers, data = n.request("POST", "/v2/models/ident/infer", body=vals.tobytes(),
                                      headers={"Inference-Header-Content-Length": "0"})
    assert status == 200, data
    head, rest = split_response(headers, data)
    assert head["outputs"][0]["shape"] == [1, 6]
    assert rest == vals.tobytes()
    raw = bytes_elements([b"x", b"yz"])
    status, headers, data = n.request("POST", "/v2/models/strs/infer", body=raw,
                                      headers={"Inference-Header-Content-Length": "0"})
    assert status == 200, data
    head, rest = split_response(headers, data)
    assert head["outputs"][0]["shape"] == [2]
    assert rest == raw
    status, _, data = n.request("POST", "/v2/models/ident/infer", body=b"\x00" * 7,
                                headers={"Inference-Header-Content-Length": "0"})
    assert status == 400 and b"whole number" in data


def fp32_header(size, extra_input=None, **top):
    inp = {"name": "INPUT0", "datatype": "FP32", "shape": [1, 4],
           "parameters": {"binary_data_size": size}}
    inp.update(extra_input or {})
    h = {"inputs": [inp]}
    h.update(top)
    return json.dumps(h).encode()


def test_every_mismatch_is_a_400_and_the_connection_lives(node, model_repo):
    n = node(repo=model_repo({"ident": identity_cfg("FP32"), "f16": identity_cfg("FP16")}))
    good = np.ones(4, dtype=np.float32).tobytes()
    h16 = fp32_header(16)
    cases = [
        # (JSON header, binary part, Inference-Header-Content-Length or None, error words)
        (fp32_header(12), good[:12], None, "need 16"),                     # size vs shape
        (h16, good, str(len(h16) + 100), "beyond the body"),                # header too long
        (h16, good, "12x", "non-negative integer"),                         # not a number
        (h16, good[:8], None, "runs past the end of the body"),             # body too short
        (h16, good + b"xx", None, "belong to no input"),                    # extra bytes
        (fp32_header(16, {"data": [1, 2, 3, 4]}), good, None, "only one of"),
        (fp32_header(16, outputs=[{"name": "OUTPUT0",
                                   "parameters": {"binary_data_size": 16}}]), good, None,
         "belongs to response outputs"),
        (fp32_header(-1), good, None, "non-negative integer"),
        (h16[:-3], good, None, "malformed JSON"),                           # cut header
    ]
    sock = n.connect()
    reader = rawhttp.Reader(sock)
    try:
        for head, binary, hlen, words in cases:
            sock.sendall(rawhttp.request_bytes(
                "POST", "/v2/models/ident/infer", head + binary,
                {"Inference-Header-Content-Length": hlen or str(len(head))}))
            r = reader.read_response()
            assert r.status == 400, (words, r)
            assert words in json.loads(r.body)["error"], (words, r.body)
        # FP16 has no JSON form: refused as JSON (and served as binary above)
        sock.sendall(rawhttp.request_bytes(
            "POST", "/v2/models/f16/infer",
            json.dumps({"inputs": [{"name": "INPUT0", "datatype": "FP16", "shape": [1, 2],
                                    "data": [1, 2]}]})))
        r = reader.read_response()
        assert r.status == 400 and b"send it as binary" in r.body
        # the same connection still serves a good binary request
        sock.sendall(rawhttp.request_bytes("POST", "/v2/models/ident/infer", h16 + good,
                                           {"Inference-Header-Content-Length": str(len(h16))}))
        r = reader.read_response()
        assert r.status == 200, r
        assert r.headers.get("connection") != "close"
    finally:
        sock.close()


def test_bytes_overrun_is_a_400(node, model_repo):
    n = node(repo=model_repo({"strs": identity_cfg("BYTES")}))
    raw = struct.pack("<I", 50) + b"abc"  # says 50 bytes, has 3
    body, hdrs = binary_body({"inputs": [{"name": "INPUT0", "datatype": "BYTES", "shape": [1, 1],
                                          "parameters": {"binary_data_size": len(raw)}}]}, raw)
    status, _, data = n.request("POST", "/v2/models/strs/infer", body=body, headers=hdrs)
    assert status == 400
    assert "runs past" in json.loads(data)["error"]


def test_32_mib_tensor_with_requests(node, model_repo):
    n = node(repo=model_repo({"ident": identity_cfg("FP32")}),
             args=["--arena-mb", "256", "--max-body-bytes", str(64 << 20)])
    count = 8 << 20  # 8 Mi floats = 32 MiB
    vals = np.random.default_rng(7).standard_normal(count, dtype=np.float32)
    head = json.dumps({"inputs": [{"name": "INPUT0", "datatype": "FP32", "shape": [1, count],
                                   "parameters": {"binary_data_size": count * 4}}],
                       "outputs": [{"name": "OUTPUT0", "parameters": {"binary_data": True}}]})
    head = head.encode()
    with requests.Session() as s:
        for _ in range(2):  # twice on one keep-alive connection
            r = s.post(n.url + "/v2/models/ident/infer", data=head + vals.tobytes(),
                       headers={"Inference-Header-Content-Length": str(len(head))}, timeout=60)
            assert r.status_code == 200, r.text[:300]
            hl = int(r.headers["Inference-Header-Content-Length"])
            out = json.loads(r.content[:hl])["outputs"][0]
            assert out["parameters"]["binary_data_size"] == count * 4
            assert r.content[hl:] == vals.tobytes()
