"""Writes one ONNX backend test case (DIR/NAME/model.onnx + test_data_set_0/{input,output}_K.pb,
the layout inferd-conformance reads) for the gen_*_cases.py scripts."""
import os

import onnx
from onnx import helper, numpy_helper


def write_case(root, name, nodes, inputs, outputs, inits=(), opset=13):
    """nodes: NodeProtos; inputs/outputs: (name, numpy array) pairs in order, an array of None
    meaning an omitted optional one (left out of the graph and the data); inits: (name, array)
    initializers. Element types follow the arrays."""
    d = os.path.join(root, name)
    os.makedirs(os.path.join(d, "test_data_set_0"))
    ins = [(k, v) for k, v in inputs if v is not None]
    outs = [(k, v) for k, v in outputs if v is not None]

    def info(k, v):
        return helper.make_tensor_value_info(k, onnx.mapping.NP_TYPE_TO_TENSOR_TYPE[v.dtype],
                                             list(v.shape))
    g = helper.make_graph(list(nodes), name, [info(k, v) for k, v in ins],
                          [info(k, v) for k, v in outs],
                          [numpy_helper.from_array(v, k) for k, v in inits])
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)]),
              os.path.join(d, "model.onnx"))
    for kind, pairs in (("input", ins), ("output", outs)):
        for i, (k, v) in enumerate(pairs):
            with open(os.path.join(d, "test_data_set_0", "%s_%d.pb" % (kind, i)), "wb") as f:
                f.write(numpy_helper.from_array(v, k).SerializeToString())
