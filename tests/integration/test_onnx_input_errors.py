# One rule for "the model refused these inputs": 400, whichever operator refuses them
# (Reshape, Expand, ...) and however (a shape that does not fit, or a tensor the inputs make
# larger than the runtime's limit); only the runtime's own failures are 500.
import json
import os

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def write_model(root, name, graph_nodes, inputs, initializers, config_inputs):
    y = helper.make_tensor_value_info("Y", TensorProto.FLOAT, None)
    g = helper.make_graph(graph_nodes, name, inputs, [y], initializer=initializers)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
    os.makedirs(os.path.join(root, name, "1"))
    onnx.save(m, os.path.join(root, name, "1", "model.onnx"))
    with open(os.path.join(root, name, "config.json"), "w") as f:
        json.dump({"backend": "onnx", "max_batch_size": 0, "inputs": config_inputs,
                   "outputs": [{"name": "Y", "datatype": "FP32", "dims": [-1, -1]}],
                   "workers": {"min": 1, "max": 1}}, f)


def make_repo(root):
    x = helper.make_tensor_value_info("X", TensorProto.FLOAT, [None, None])
    x_cfg = {"name": "X", "datatype": "FP32", "dims": [-1, -1]}
    # Reshape and Expand to a fixed shape
    for op, shape in (("Reshape", [2, 2]), ("Expand", [2, 4])):
        write_model(root, op.lower(), [helper.make_node(op, ["X", "shape"], ["Y"])], [x],
                    [numpy_helper.from_array(np.array(shape, dtype=np.int64), "shape")],
                    [x_cfg])
    # Expand to a shape the client gives
    s = helper.make_tensor_value_info("S", TensorProto.INT64, [2])
    write_model(root, "expand_to", [helper.make_node("Expand", ["X", "S"], ["Y"])], [x, s],
                [], [x_cfg, {"name": "S", "datatype": "INT64", "dims": [2]}])


def x_input(rows, cols):
    return {"name": "X", "datatype": "FP32", "shape": [rows, cols],
            "data": [float(i) for i in range(rows * cols)]}


def test_refused_inputs_are_400_for_every_op(node, tmp_path):
    root = str(tmp_path / "repo")
    make_repo(root)
    n = node(repo=root)
    # shapes that do not fit the op
    for model in ("reshape", "expand"):
        status, body = n.infer(model, [x_input(1, 3)])
        assert status == 400, (model, body)
        assert "rejected the inputs" in body["error"], body
    # a shape that fits works
    status, body = n.infer("expand", [x_input(2, 1)])
    assert status == 200 and body["outputs"][0]["shape"] == [2, 4], body
    status, body = n.infer("expand_to", [x_input(1, 1), {"name": "S", "datatype": "INT64",
                                                         "shape": [2], "data": [2, 3]}])
    assert status == 200 and body["outputs"][0]["data"] == [0.0] * 6, body
    # the inputs ask Expand for a tensor beyond the runtime's limit: refused, not a failure
    status, body = n.infer("expand_to", [x_input(1, 1), {"name": "S", "datatype": "INT64",
                                                         "shape": [2],
                                                         "data": [1 << 31, 1 << 31]}])
    assert status == 400, body
    assert "too large" in body["error"], body
    # the worker is still there and serving
    status, body = n.infer("expand", [x_input(1, 4)])
    assert status == 200 and body["outputs"][0]["shape"] == [2, 4], body
