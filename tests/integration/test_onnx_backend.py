# The bundled digits model served by the onnx backend: metadata, a 10-image batch in one
# request, many single-image requests at once (the batcher stacks them), wrong shapes.
import json
import os
import threading

from conftest import BUNDLED_MODELS

with open(os.path.join(BUNDLED_MODELS, "digits", "samples.json")) as f:
    SAMPLES = json.load(f)


def images(rows):
    return [{"name": "input", "datatype": "FP32", "shape": [len(rows), 64], "data": rows}]


def labels_of(body):
    out = body["outputs"][0]
    assert out["name"] == "probabilities" and out["datatype"] == "FP32"
    n = out["shape"][0]
    assert out["shape"] == [n, 10]
    probs = [out["data"][i * 10:(i + 1) * 10] for i in range(n)]
    for p in probs:
        assert abs(sum(p) - 1.0) < 1e-4
    return [max(range(10), key=p.__getitem__) for p in probs]


def test_digits_metadata_and_batch(node):
    n = node()
    status, meta = n.get_json("/v2/models/digits")
    assert status == 200
    assert meta["backend"] == "onnx" and meta["max_batch_size"] == 64
    assert meta["inputs"] == [{"name": "input", "datatype": "FP32", "shape": [-1, 64]}]
    assert meta["outputs"] == [{"name": "probabilities", "datatype": "FP32", "shape": [-1, 10]}]
    assert n.get_json("/v2/models/digits/ready")[0] == 200
    status, body = n.infer("digits", images(SAMPLES["inputs"]))
    assert status == 200, body
    assert labels_of(body) == SAMPLES["labels"]


def test_digits_many_clients_at_once(node):
    n = node()
    results = [None] * 80
    def one(k):
        i = k % 10
        results[k] = (i, n.infer("digits", images([SAMPLES["inputs"][i]])))
    threads = [threading.Thread(target=one, args=(k,)) for k in range(len(results))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    for i, (status, body) in results:
        assert status == 200, body
        assert labels_of(body) == [SAMPLES["labels"][i]]
    status, st = n.get_json("/v2/models/digits/stats")
    assert st["model_stats"][0]["inference_count"] == len(results)


def test_digits_wrong_shape_and_type(node):
    n = node()
    bad = [{"name": "input", "datatype": "FP32", "shape": [1, 63], "data": [0] * 63}]
    status, body = n.infer("digits", bad)
    assert status == 400 and "63" in body["error"], body
    bad = [{"name": "input", "datatype": "INT64", "shape": [1, 64], "data": [0] * 64}]
    status, body = n.infer("digits", bad)
    assert status == 400 and "datatype" in body["error"].lower(), body
    # still serving
    assert n.infer("digits", images(SAMPLES["inputs"][:1]))[0] == 200
