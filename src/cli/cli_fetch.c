/* cli_fetch: one blocking request through the client library on a private loop, for the
 * subcommands that ask a question and print the answer. */
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "inferd/client.h"

#define CLI_FETCH_TIMEOUT_MS 30000

typedef struct fetch_state {
    int done, err, status;
    char *body;
    size_t len;
} fetch_state;

static void on_answer(void *user, int err, const inferd_client_response *resp)
{
    fetch_state *st = user;
    st->done = 1;
    st->err = err;
    if (err)
        return;
    st->status = resp->status;
    st->body = malloc(resp->body_len + 1);
    if (!st->body) {
        st->err = INFERD_CLIENT_E_NOMEM;
        return;
    }
    memcpy(st->body, resp->body, resp->body_len);
    st->body[resp->body_len] = '\0';
    st->len = resp->body_len;
}

int cli_fetch(const char *url, const char *method, const char *path, const char *body,
              int *status, char **resp_body, size_t *resp_len, char *err, size_t err_len)
{
    *resp_body = NULL;
    *resp_len = 0;
    uv_loop_t loop;
    if (uv_loop_init(&loop) != 0) {
        snprintf(err, err_len, "cannot create an event loop");
        return -1;
    }
    inferd_client_options o = {.url = url, .timeout_ms = CLI_FETCH_TIMEOUT_MS};
    inferd_client *c;
    int rc = inferd_client_new(&loop, &o, &c, err, err_len);
    fetch_state st = {0};
    if (rc == 0) {
        size_t blen = body ? strlen(body) : 0;
        rc = inferd_client_send(c, method, path, body ? "application/json" : NULL, -1, body,
                                blen, on_answer, &st);
        if (rc == 0)
            while (!st.done)
                uv_run(&loop, UV_RUN_ONCE);
        else
            snprintf(err, err_len, "%s", inferd_client_strerror(rc));
        inferd_client_close(c, NULL, NULL);
        uv_run(&loop, UV_RUN_DEFAULT);
        if (rc == 0 && st.err) {
            snprintf(err, err_len, "%s %s: %s", method, url, inferd_client_strerror(st.err));
            rc = st.err;
        }
    }
    uv_loop_close(&loop);
    if (rc != 0) {
        free(st.body);
        return -1;
    }
    *status = st.status;
    *resp_body = st.body;
    *resp_len = st.len;
    return 0;
}
