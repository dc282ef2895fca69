/* Model metadata accessors of the public API, and what BLAS is in use. */
#include <cblas.h>
#include <pthread.h>
#include <stdio.h>

#include "gemm/gemm.h"
#include "model.h"

static char blas_info[96];
static pthread_once_t blas_info_once = PTHREAD_ONCE_INIT;

static void blas_info_init(void)
{
    snprintf(blas_info, sizeof blas_info, "inferd %s, OpenBLAS %s",
             onnx_gemm_kernel_name(ONNX_GEMM_AUTO), openblas_get_corename());
}

const char *onnx_blas_info(void)
{
    pthread_once(&blas_info_once, blas_info_init);
    return blas_info;
}

int onnx_model_num_inputs(const onnx_model *m)
{
    return m->n_inputs;
}
int onnx_model_num_outputs(const onnx_model *m)
{
    return m->n_outputs;
}

const onnx_value_info *onnx_model_input(const onnx_model *m, int i)
{
    return i >= 0 && i < m->n_inputs ? &m->input_info[i] : NULL;
}

const onnx_value_info *onnx_model_output(const onnx_model *m, int i)
{
    return i >= 0 && i < m->n_outputs ? &m->output_info[i] : NULL;
}

int onnx_model_opset(const onnx_model *m)
{
    return m->opset;
}
int64_t onnx_model_ir_version(const onnx_model *m)
{
    return m->ir_version;
}
const char *onnx_model_producer(const onnx_model *m)
{
    return m->producer ? m->producer : "";
}
int onnx_model_num_op_types(const onnx_model *m)
{
    return m->n_op_types;
}

const char *onnx_model_op_type(const onnx_model *m, int i, int *count)
{
    if (i < 0 || i >= m->n_op_types) {
        if (count) *count = 0;
        return NULL;
    }
    if (count) *count = m->op_counts[i];
    return m->op_types[i];
}

int onnx_model_num_exec_nodes(const onnx_model *m)
{
    return m->n_nodes;
}

int64_t onnx_model_batch_slice(const onnx_model *m)
{
    return m->batch_slice;
}

const char *onnx_model_batch_why(const onnx_model *m)
{
    return m->batch_why;
}

int onnx_model_concat_groups(const onnx_model *m, int *concats)
{
    if (concats) *concats = m->n_place_groups ? m->place_cat_start[m->n_place_groups] : 0;
    return m->n_place_groups;
}

size_t onnx_model_weight_bytes(const onnx_model *m)
{
    return onnx_graph_weight_bytes(m);
}
