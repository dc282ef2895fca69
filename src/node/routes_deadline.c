/* The deadline of an infer request, one rule for HTTP and gRPC: the request's own
 * parameters.timeout, else the transport's timeout, else the model's default. */
#include <stdio.h>

#include "routes.h"

int routes_infer_deadline(const model_config *m, int64_t max_timeout_ms, int64_t timeout_us,
                          int64_t transport_ns, int64_t arrival_ns, infer_request *req, char *err,
                          size_t err_len)
{
    int64_t timeout_ns = m->timeout_ms > 0 ? m->timeout_ms * 1000000 : 0;
    if (timeout_us >= 0) {
        if (timeout_us > max_timeout_ms * 1000) {
            snprintf(err, err_len,
                     "parameters.timeout: %lld us exceeds this server's maximum of %lld ms",
                     (long long)timeout_us, (long long)max_timeout_ms);
            return -1;
        }
        timeout_ns = timeout_us * 1000;
    } else if (transport_ns >= 0) {
        timeout_ns = transport_ns;
    }
    req->deadline_ns = timeout_ns > 0 ? arrival_ns + timeout_ns : 0;
    return 0;
}
