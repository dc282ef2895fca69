# KServe v2 infer over JSON: every datatype with flat and nested data, exact numbers, the
# outputs filter, id echo, and a precise 400 for each kind of bad request.
import json
import struct

import pytest

from conftest import MOCK_IDENTITY

DTYPES = {
    "BOOL": [True, False, True, True, False, False],
    "INT8": [-128, 127, 0, 1, -1, 5],
    "INT16": [-32768, 32767, 0, 1, -1, 5],
    "INT32": [-2147483648, 2147483647, 0, 1, -1, 5],
    "INT64": [-9223372036854775808, 9223372036854775807, 0, 1, -1, 5],
    "UINT8": [0, 255, 1, 2, 3, 4],
    "UINT16": [0, 65535, 1, 2, 3, 4],
    "UINT32": [0, 4294967295, 1, 2, 3, 4],
    "UINT64": [0, 9223372036854775807, 1, 2, 3, 4],
    "FP32": [0.0, -1.5, 3.25, 1e-30, 3.4028234663852886e38, 0.1],
    "FP64": [0.0, -1.5, 0.1, 1e-300, 1.7976931348623157e308, 2.0 / 3.0],
    "BYTES": ["", "a", "hello world", "ünïcödé", "quote\"back\\slash", "x" * 300],
}


def identity_cfg(dtype, mbs=8):
    return {"backend": "identity", "max_batch_size": mbs,
            "inputs": [{"name": "INPUT0", "datatype": dtype, "dims": [-1]}],
            "outputs": [{"name": "OUTPUT0", "datatype": dtype, "dims": [-1]}],
            "workers": {"min": 1, "max": 1}}


@pytest.fixture
def typed_node(node, model_repo):
    models = {"id_" + dt.lower(): identity_cfg(dt) for dt in DTYPES}
    models["identity"] = MOCK_IDENTITY
    models["fixed"] = {"backend": "identity", "max_batch_size": 0,
                       "inputs": [{"name": "X", "datatype": "INT32", "dims": [2, 3]}],
                       "outputs": [{"name": "Y", "datatype": "INT32", "dims": [2, 3]}],
                       "workers": {"min": 1, "max": 1}}
    return node(repo=model_repo(models))


def f32(x):
    return struct.unpack("<f", struct.pack("<f", x))[0]


@pytest.mark.parametrize("dtype", sorted(DTYPES))
def test_each_datatype_flat_and_nested(typed_node, dtype):
    n = typed_node
    values = DTYPES[dtype]
    expect = [f32(v) for v in values] if dtype == "FP32" else values
    for data in (values, [values[:3], values[3:]]):   # flat, then nested [2][3]
        status, body = n.infer("id_" + dtype.lower(),
                               [{"name": "INPUT0", "datatype": dtype, "shape": [2, 3],
                                 "data": data}])
        assert status == 200, body
        out = body["outputs"][0]
        assert out["name"] == "OUTPUT0" and out["datatype"] == dtype
        assert out["shape"] == [2, 3]
        got = [f32(x) for x in out["data"]] if dtype == "FP32" else out["data"]
        assert got == expect   # FP32 printed with 9 digits reads back as the same float


def test_float_printing_is_exact(typed_node):
    status, _, raw = typed_node.request(
        "POST", "/v2/models/id_fp32/infer",
        body={"inputs": [{"name": "INPUT0", "datatype": "FP32", "shape": [1, 3],
                          "data": [0.1, 1.0, 16777217]}]})
    assert status == 200
    assert b'"data": [0.100000001,1,16777216]' in raw
    status, _, raw = typed_node.request(
        "POST", "/v2/models/id_fp64/infer",
        body={"inputs": [{"name": "INPUT0", "datatype": "FP64", "shape": [1, 2],
                          "data": [0.1, 1e300]}]})
    assert status == 200
    assert b'"data": [0.10000000000000001,1.0000000000000001e+300]' in raw


def test_id_echo_and_response_fields(typed_node):
    status, body = typed_node.infer("identity", [{"name": "INPUT0", "datatype": "FP32",
                                                  "shape": [1, 2], "data": [1, 2]}],
                                    extra={"id": "req-42"})
    assert status == 200
    assert body["id"] == "req-42"
    assert body["model_name"] == "identity"
    assert body["model_version"] == "1"
    status, body = typed_node.infer("identity", [{"name": "INPUT0", "datatype": "FP32",
                                                  "shape": [1, 1], "data": [1]}])
    assert status == 200 and "id" not in body


def test_outputs_filter(typed_node):
    inp = [{"name": "INPUT0", "datatype": "FP32", "shape": [1, 1], "data": [7]}]
    status, body = typed_node.infer("identity", inp, extra={"outputs": [{"name": "OUTPUT0"}]})
    assert status == 200 and [o["name"] for o in body["outputs"]] == ["OUTPUT0"]
    status, body = typed_node.infer("identity", inp, extra={"outputs": [{"name": "NOPE"}]})
    assert status == 400 and "NOPE" in body["error"]


def test_versioned_infer_and_unbatched_model(typed_node):
    status, body = typed_node.post_json(
        "/v2/models/fixed/versions/1/infer",
        {"inputs": [{"name": "X", "datatype": "INT32", "shape": [2, 3],
                     "data": [[1, 2, 3], [4, 5, 6]]}]})
    assert status == 200, body
    assert body["outputs"][0]["shape"] == [2, 3]
    assert body["outputs"][0]["data"] == [1, 2, 3, 4, 5, 6]


def test_scalar_zero_size_and_batch_limit(typed_node):
    status, body = typed_node.infer("identity", [{"name": "INPUT0", "datatype": "FP32",
                                                  "shape": [1, 0], "data": []}])
    assert status == 200, body
    assert body["outputs"][0]["shape"] == [1, 0] and body["outputs"][0]["data"] == []
    status, body = typed_node.infer("id_int32", [{"name": "INPUT0", "datatype": "INT32",
                                                  "shape": [9, 1], "data": list(range(9))}])
    assert status == 400 and "max_batch_size" in body["error"]


BAD = [
    # (body, words expected in the error)
    (b"{", "malformed JSON"),
    (b"", "empty request body"),
    (b"[1, 2]", "JSON object"),
    (b'{"inputs": 5}', "inputs"),
    (b'{"nothing": 1}', "inputs"),
    (b'{"inputs": []}', "takes 1 input"),
    (b'{"inputs": [5]}', "must be an object"),
    (b'{"inputs": [{"datatype": "FP32", "shape": [1,1], "data": [1]}]}', "name"),
    (b'{"inputs": [{"name": "BAD", "datatype": "FP32", "shape": [1,1], "data": [1]}]}', "no input 'BAD'"),
    (b'{"inputs": [{"name": "INPUT0", "shape": [1,1], "data": [1]}]}', "datatype"),
    (b'{"inputs": [{"name": "INPUT0", "datatype": "INT32", "shape": [1,1], "data": [1]}]}', "does not match"),
    (b'{"inputs": [{"name": "INPUT0", "datatype": "FP32", "data": [1]}]}', "shape"),
    (b'{"inputs": [{"name": "INPUT0", "datatype": "FP32", "shape": [1], "data": [1]}]}', "dimensions"),
    (b'{"inputs": [{"name": "INPUT0", "datatype": "FP32", "shape": [1,-2], "data": [1]}]}', "non-negative"),
    (b'{"inputs": [{"name": "INPUT0", "datatype": "FP32", "shape": [1,"a"], "data": [1]}]}', "non-negative"),
    (b'{"inputs": [{"name": "INPUT0", "datatype": "FP32", "shape": [1,2], "data": [1]}]}', "2 elements"),
    (b'{"inputs": [{"name": "INPUT0", "datatype": "FP32", "shape": [1,2], "data": [1, "x"]}]}', "number"),
    (b'{"inputs": [{"name": "INPUT0", "datatype": "FP32", "shape": [1,2], "data": [[1, 2, 3]]}]}', "nested"),
    (b'{"inputs": [{"name": "INPUT0", "datatype": "FP32", "shape": [2,2], "data": [[1, 2], [3]]}]}', "nested"),
    (b'{"inputs": [{"name": "INPUT0", "datatype": "FP32", "shape": [1,1], "data": [1e39]}]}', "out of range"),
    (b'{"inputs": [{"name": "INPUT0", "datatype": "FP32", "shape": [1,1], "data": [NaN]}]}', "malformed JSON"),
    (b'{"inputs": [{"name": "INPUT0", "datatype": "FP32", "shape": [1,1]}]}', "data"),
    (b'{"inputs": [{"name": "INPUT0", "datatype": "FP32", "shape": [1,1], "data": [1]}], "id": 5}', "id"),
    (b'{"inputs": [{"name": "INPUT0", "datatype": "FP32", "shape": [1,1], "data": [1]}], "parameters": {"timeout": -1}}', "timeout"),
    (b'{"inputs": [{"name": "INPUT0", "datatype": "FP32", "shape": [1,1], "data": [1]}], "parameters": {"priority": "high"}}', "priority"),
    (b'{"inputs": [{"name": "INPUT0", "datatype": "FP32", "shape": [1,1], "data": [1]}], "outputs": {}}', "outputs"),
    (b'{"inputs": [{"name": "INPUT0", "datatype": "FP32", "shape": [1,1], "data": [1]}, {"name": "INPUT0", "datatype": "FP32", "shape": [1,1], "data": [1]}]}', "takes 1 input"),
]


def test_bad_requests_are_400_with_reason(typed_node):
    for body, words in BAD:
        status, headers, raw = typed_node.request("POST", "/v2/models/identity/infer", body=body)
        assert status == 400, (body, raw)
        err = json.loads(raw)["error"]
        assert words in err, (body, err)
    # the node is still fine afterwards
    status, body = typed_node.infer("identity", [{"name": "INPUT0", "datatype": "FP32",
                                                  "shape": [1, 1], "data": [3]}])
    assert status == 200 and body["outputs"][0]["data"] == [3]


def test_integer_ranges_and_bool_type(typed_node):
    cases = [("id_int8", "INT8", 128), ("id_uint8", "UINT8", -1), ("id_uint16", "UINT16", 65536),
             ("id_int32", "INT32", 2 ** 31), ("id_uint32", "UINT32", 2 ** 32),
             ("id_int16", "INT16", 1.5)]
    for model, dt, v in cases:
        status, body = typed_node.infer(model, [{"name": "INPUT0", "datatype": dt,
                                                 "shape": [1, 1], "data": [v]}])
        assert status == 400, (dt, v, body)
    status, body = typed_node.infer("id_bool", [{"name": "INPUT0", "datatype": "BOOL",
                                                 "shape": [1, 1], "data": [1]}])
    assert status == 400 and "true or false" in body["error"]
    status, body = typed_node.infer("id_bytes", [{"name": "INPUT0", "datatype": "BYTES",
                                                  "shape": [1, 1], "data": [1]}])
    assert status == 400 and "string" in body["error"]


def test_timeout_header_validation(typed_node):
    inp = {"inputs": [{"name": "INPUT0", "datatype": "FP32", "shape": [1, 1], "data": [1]}]}
    status, _, raw = typed_node.request("POST", "/v2/models/identity/infer", body=inp,
                                        headers={"Inferd-Timeout-Ms": "soon"})
    assert status == 400 and "Inferd-Timeout-Ms" in json.loads(raw)["error"]
    status, _, raw = typed_node.request("POST", "/v2/models/identity/infer", body=inp,
                                        headers={"Inferd-Timeout-Ms": "5000"})
    assert status == 200
