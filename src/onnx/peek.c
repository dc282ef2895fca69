/* Op types of a model file, for the conformance report. */
#include "peek.h"

#include <stdlib.h>
#include <string.h>

#include "model.h"
#include "onnx.pb-c.h"
#include "pbtensor.h"

int onnx_peek_op_types(const char *path, char ***types)
{
    *types = NULL;
    onnx_load_err e = {NULL, 0, 0};
    unsigned char *buf;
    size_t len;
    if (onnx_read_file(path, (size_t)1 << 31, &buf, &len, &e) < 0) return -1;
    Onnx__ModelProto *mp = onnx__model_proto__unpack(NULL, len, buf);
    free(buf);
    if (!mp) return -1;
    int n = 0;
    if (mp->graph && mp->graph->n_node) {
        *types = calloc(mp->graph->n_node, sizeof **types);
        for (size_t i = 0; *types && i < mp->graph->n_node; i++) {
            const char *t = mp->graph->node[i]->op_type ? mp->graph->node[i]->op_type : "";
            int k = 0;
            while (k < n && strcmp((*types)[k], t) != 0) k++;
            if (k == n) {
                (*types)[n] = strdup(t);
                if ((*types)[n]) n++;
            }
        }
    }
    onnx__model_proto__free_unpacked(mp, NULL);
    return n;
}

void onnx_peek_free(char **types, int n)
{
    for (int i = 0; i < n; i++) free(types[i]);
    free(types);
}
