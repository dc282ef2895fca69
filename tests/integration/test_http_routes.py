# Routes: health, server and model metadata, readiness, and the 404/405 answers.
import json

from conftest import MOCK_DELAY, MOCK_IDENTITY, MOCK_REVERSE


def small(model_repo, **extra):
    models = {"reverse": MOCK_REVERSE, "identity": MOCK_IDENTITY}
    models.update(extra)
    return model_repo(models)


def test_live_and_ready(node, model_repo):
    n = node(repo=small(model_repo))
    status, body = n.get_json("/v2/health/live")
    assert status == 200 and body == {"live": True}
    status, body = n.get_json("/v2/health/ready")
    assert status == 200 and body == {"ready": True}
    status, body = n.get_json("/v2/models/reverse/ready")
    assert status == 200 and body["ready"] is True
    status, body = n.get_json("/v2/models/reverse/versions/1/ready")
    assert status == 200


def test_not_ready_without_workers(node, model_repo):
    # A worker that cannot start: the node is live but never ready.
    n = node(repo=small(model_repo), args=["--worker-path", "/bin/false"], ready=False)
    status, headers, body = n.request("GET", "/v2/health/ready")
    assert status == 503
    assert headers.get("retry-after")
    assert "no live worker" in json.loads(body)["error"]
    status, _, _ = n.request("GET", "/v2/models/identity/ready")
    assert status == 503
    status, _, _ = n.request("GET", "/v2/health/live")
    assert status == 200


def test_server_metadata(node, model_repo):
    n = node(repo=small(model_repo))
    status, body = n.get_json("/v2")
    assert status == 200
    assert body["name"] == "inferd"
    assert isinstance(body["version"], str) and body["version"]
    assert isinstance(body["extensions"], list)


def test_model_metadata_shapes(node, model_repo):
    fixed = {"backend": "identity", "max_batch_size": 0,
             "inputs": [{"name": "X", "datatype": "INT32", "dims": [2, 3]}],
             "outputs": [{"name": "Y", "datatype": "INT32", "dims": [2, 3]}]}
    n = node(repo=small(model_repo, fixed=fixed))
    status, body = n.get_json("/v2/models/identity")
    assert status == 200
    assert body["name"] == "identity"
    assert body["versions"] == ["1"]
    assert body["platform"] == "identity"
    assert body["inputs"] == [{"name": "INPUT0", "datatype": "FP32", "shape": [-1, -1]}]
    assert body["outputs"] == [{"name": "OUTPUT0", "datatype": "FP32", "shape": [-1, -1]}]
    status, body = n.get_json("/v2/models/fixed")
    assert status == 200
    # not batched: the shape is the full shape, no batch dimension
    assert body["inputs"] == [{"name": "X", "datatype": "INT32", "shape": [2, 3]}]
    status, body = n.get_json("/v2/models/fixed/versions/1")
    assert status == 200 and body["name"] == "fixed"


def test_unknown_route_and_model_404(node, model_repo):
    n = node(repo=small(model_repo))
    for path in ["/", "/v1/models", "/v2/nothing", "/v2/health/dead", "/v2/models/reverse/x",
                 "/v2/models/reverse/versions", "/v2/models/reverse/infer/more"]:
        status, headers, body = n.request("GET", path)
        assert status == 404, path
        assert "error" in json.loads(body)
    status, body = n.get_json("/v2/models/nope")
    assert status == 404 and "unknown model 'nope'" in body["error"]
    status, body = n.post_json("/v2/models/nope/infer", {"inputs": []})
    assert status == 404 and "nope" in body["error"]
    status, body = n.get_json("/v2/models/reverse/versions/7")
    assert status == 404 and "version" in body["error"]


def test_wrong_method_405_with_allow(node, model_repo):
    n = node(repo=small(model_repo))
    cases = [("POST", "/v2/health/live", "GET"), ("DELETE", "/v2", "GET"),
             ("GET", "/v2/models/reverse/infer", "POST"), ("PUT", "/process", "POST"),
             ("GET", "/process", "POST"), ("POST", "/v2/models/reverse", "GET")]
    for method, path, allowed in cases:
        status, headers, body = n.request(method, path, body=b"" if method != "GET" else None)
        assert status == 405, (method, path)
        assert allowed in headers["allow"], (method, path, headers)
        assert method in json.loads(body)["error"]


def test_head_has_no_body(node, model_repo):
    import http.client
    n = node(repo=small(model_repo))
    conn = http.client.HTTPConnection(n.host, n.port, timeout=10)
    conn.request("HEAD", "/v2/health/live")
    resp = conn.getresponse()
    assert resp.status == 200
    assert int(resp.getheader("content-length")) > 0
    assert resp.read() == b""
    # the connection is still usable afterwards
    conn.request("GET", "/v2/health/live")
    resp = conn.getresponse()
    assert resp.status == 200 and json.loads(resp.read()) == {"live": True}
    conn.close()


def test_broken_and_unavailable_models_skipped(node, model_repo):
    repo = model_repo({"reverse": MOCK_REVERSE,
                       "broken": "{not json",
                       "badtype": {"backend": "identity", "inputs": [
                           {"name": "A", "datatype": "FP8", "dims": [1]}],
                           "outputs": [{"name": "B", "datatype": "FP32", "dims": [1]}]},
                       "futuristic": {"backend": "tpu9000"}})
    n = node(repo=repo)
    assert n.get_json("/v2/models/reverse")[0] == 200
    for name in ["broken", "badtype", "futuristic"]:
        assert n.get_json("/v2/models/%s" % name)[0] == 404
    log = n.log_text()
    assert "broken" in log and "badtype" in log and "FP8" in log and "tpu9000" in log
