# GET /v2/models/{m}/config in Triton's shape, checked against each model's config.json, and
# the versioned form of every model route (/v2/models/{m}/versions/{v}/...) with its 404s.
import json
import os

from conftest import BUNDLED_MODELS, MOCK_IDENTITY, MOCK_REVERSE

TRITON_TYPES = {"FP32": "TYPE_FP32", "INT32": "TYPE_INT32", "INT64": "TYPE_INT64",
                "BYTES": "TYPE_STRING", "UINT8": "TYPE_UINT8", "BOOL": "TYPE_BOOL"}

FIXED = {"backend": "identity", "max_batch_size": 0,
         "inputs": [{"name": "X", "datatype": "INT32", "dims": [2, 3]},
                    {"name": "Z", "datatype": "UINT8", "dims": [-1]}],
         "outputs": [{"name": "Y", "datatype": "INT32", "dims": [2, 3]}],
         "workers": {"min": 1, "max": 3}}


def check_against(cfg_name, got, want):
    """got: the node's config answer; want: the model's config.json."""
    assert got["name"] == cfg_name
    assert got["backend"] == want["backend"]
    mbs = want.get("max_batch_size", 0)
    assert got["max_batch_size"] == mbs
    for key, triton_key in (("inputs", "input"), ("outputs", "output")):
        assert [io["name"] for io in got[triton_key]] == [io["name"] for io in want[key]]
        for g, w in zip(got[triton_key], want[key]):
            assert g["data_type"] == TRITON_TYPES[w["datatype"]]
            assert g["dims"] == w["dims"]  # without the batch dimension, as Triton
    if mbs > 0:
        db = got["dynamic_batching"]
        assert db["preferred_batch_size"] == [mbs]
        delay = want.get("dynamic_batching", {}).get("max_queue_delay_us", 0)
        assert db["max_queue_delay_microseconds"] == delay
    else:
        assert "dynamic_batching" not in got
    group = got["instance_group"]
    assert len(group) == 1 and group[0]["kind"] == "KIND_CPU"
    if "workers" in want:
        assert group[0]["count"] == want["workers"]["max"]
    assert got["version_policy"] == {"latest": {"num_versions": 1}}


def test_config_of_every_bundled_model(node):
    n = node()
    names = sorted(d for d in os.listdir(BUNDLED_MODELS)
                   if os.path.isfile(os.path.join(BUNDLED_MODELS, d, "config.json")))
    assert len(names) >= 3
    for name in names:
        with open(os.path.join(BUNDLED_MODELS, name, "config.json")) as f:
            want = json.load(f)
        status, got = n.get_json("/v2/models/%s/config" % name)
        assert status == 200, (name, got)
        check_against(name, got, want)
    status, got = n.get_json("/v2/models/digits/config")
    assert got["platform"] == "onnxruntime_onnx"


def test_config_of_unbatched_and_several_models(node, model_repo):
    repo = model_repo({"fixed": FIXED, "reverse": MOCK_REVERSE, "identity": MOCK_IDENTITY})
    n = node(repo=repo)
    for name, want in (("fixed", FIXED), ("reverse", MOCK_REVERSE), ("identity", MOCK_IDENTITY)):
        status, got = n.get_json("/v2/models/%s/config" % name)
        assert status == 200
        check_against(name, got, want)
        status, versioned = n.get_json("/v2/models/%s/versions/1/config" % name)
        assert status == 200 and versioned == got
    status, got = n.get_json("/v2/models/fixed/config")
    assert got["input"][1] == {"name": "Z", "data_type": "TYPE_UINT8", "dims": [-1]}
    assert got["parameters"]["workers_min"] == {"string_value": "1"}


def test_every_model_route_has_a_versioned_form(node, model_repo):
    n = node(repo=model_repo({"identity": MOCK_IDENTITY}))
    one = {"inputs": [{"name": "INPUT0", "datatype": "FP32", "shape": [1, 2], "data": [1, 2]}]}
    base = "/v2/models/identity/versions/1"
    assert n.get_json(base)[0] == 200
    assert n.get_json(base)[1]["name"] == "identity"
    assert n.get_json(base + "/ready")[0] == 200
    assert n.get_json(base + "/config")[0] == 200
    status, stats = n.get_json(base + "/stats")
    assert status == 200 and stats["model_stats"][0]["name"] == "identity"
    status, body = n.post_json(base + "/infer", one)
    assert status == 200 and body["outputs"][0]["data"] == [1, 2]
    assert body["model_version"] == "1"


def test_unknown_version_and_model_are_404(node, model_repo):
    n = node(repo=model_repo({"identity": MOCK_IDENTITY}))
    for suffix in ("", "/ready", "/config", "/stats"):
        status, body = n.get_json("/v2/models/identity/versions/7" + suffix)
        assert status == 404
        assert "no version '7'" in body["error"] and "available: 1" in body["error"]
    status, body = n.post_json("/v2/models/identity/versions/7/infer", {"inputs": []})
    assert status == 404 and "no version '7'" in body["error"]
    status, body = n.get_json("/v2/models/nope/config")
    assert status == 404 and "unknown model 'nope'" in body["error"]
    status, body = n.get_json("/v2/models/identity/versions/1/nothing")
    assert status == 404 and "no route" in body["error"]
    status, _, _ = n.request("POST", "/v2/models/identity/config", body=b"")
    assert status == 405


def test_server_metadata_lists_the_extensions(node, model_repo):
    n = node(repo=model_repo({"identity": MOCK_IDENTITY}))
    status, body = n.get_json("/v2")
    assert status == 200
    for ext in ("model_configuration", "model_repository", "statistics"):
        assert ext in body["extensions"]
