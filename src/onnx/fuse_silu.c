/* Load-time fusion of SiLU / Swish as PyTorch exports nn.SiLU (EfficientNet, the causal
 * decoder's gated FFN): y = Mul(x, Sigmoid(x)) becomes one Silu node (an internal operator of the
 * unary family, see ops/activation.h), one vectorized pass instead of two and a temporary; the
 * activation pass then folds it into the Conv/Gemm/MatMul producing x. */
#include <string.h>

#include "fuse.h"
#include "registry.h"

int onnx_fuse_silu(onnx_model *m, int si)
{
    onnx_node *sig = &m->nodes[si];
    if (strcmp(sig->op_type, "Sigmoid") != 0 || sig->n_inputs != 1 ||
        !onnx_fuse_only_first_output(sig))
        return 0;
    int x = sig->inputs[0], s = sig->outputs[0];
    if (x < 0 || m->values[x].kind == ONNX_VALUE_CONST) return 0;
    int mi = onnx_fuse_sole_consumer(m, s);
    if (mi < 0) return 0;
    const onnx_node *mul = &m->nodes[mi];
    if (strcmp(mul->op_type, "Mul") != 0 || mul->n_inputs != 2 || !onnx_fuse_only_first_output(mul))
        return 0;
    if (!((mul->inputs[0] == x && mul->inputs[1] == s) ||
          (mul->inputs[0] == s && mul->inputs[1] == x)))
        return 0;
    const onnx_op *silu = onnx_registry_find("Silu", ONNX_OPSET_INTERNAL);
    if (!silu) return 0;
    /* the Sigmoid node becomes Silu(x): it runs after x exists and before y's first reader */
    int y = mul->outputs[0];
    sig->op_type = "Silu";
    sig->op = silu;
    sig->outputs[0] = y;
    sig->n_attrs = 0;
    m->values[y].producer = si;
    m->nodes[mi].op = NULL;
    return 1;
}
