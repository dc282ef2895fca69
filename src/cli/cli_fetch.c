/* cli_request / cli_fetch: one blocking request through the client library on a private
 * loop, for the subcommands that ask a question and print the answer. */
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "inferd/client.h"

#define CLI_FETCH_TIMEOUT_MS 60000

typedef struct fetch_state {
    int done, err;
    cli_answer *out;
} fetch_state;

static void on_answer(void *user, int err, const inferd_client_response *resp)
{
    fetch_state *st = user;
    st->done = 1;
    st->err = err;
    if (err)
        return;
    st->out->status = resp->status;
    st->out->body = malloc(resp->body_len + 1);
    if (!st->out->body) {
        st->err = INFERD_CLIENT_E_NOMEM;
        return;
    }
    memcpy(st->out->body, resp->body, resp->body_len);
    st->out->body[resp->body_len] = '\0';
    st->out->body_len = resp->body_len;
    st->out->json_len = resp->json_len;
}

int cli_request(const char *url, const char *method, const char *path, const char *content_type,
                long long json_len, const void *body, size_t body_len, cli_answer *out,
                char *err, size_t err_len)
{
    memset(out, 0, sizeof *out);
    uv_loop_t loop;
    if (uv_loop_init(&loop) != 0) {
        snprintf(err, err_len, "cannot create an event loop");
        return -1;
    }
    inferd_client_options o = {.url = url, .timeout_ms = CLI_FETCH_TIMEOUT_MS};
    inferd_client *c;
    int rc = inferd_client_new(&loop, &o, &c, err, err_len);
    fetch_state st = {.out = out};
    if (rc == 0) {
        rc = inferd_client_send(c, method, path, content_type, json_len, body, body_len,
                                on_answer, &st);
        if (rc == 0)
            while (!st.done)
                uv_run(&loop, UV_RUN_ONCE);
        else
            snprintf(err, err_len, "%s", inferd_client_strerror(rc));
        inferd_client_close(c, NULL, NULL);
        uv_run(&loop, UV_RUN_DEFAULT);
        if (rc == 0 && st.err) {
            snprintf(err, err_len, "%s %s%s: %s", method, url, path,
                     inferd_client_strerror(st.err));
            rc = st.err;
        }
    }
    uv_loop_close(&loop);
    if (rc != 0) {
        free(out->body);
        memset(out, 0, sizeof *out);
        return -1;
    }
    return 0;
}

int cli_fetch(const char *url, const char *method, const char *path, const char *body,
              int *status, char **resp_body, size_t *resp_len, char *err, size_t err_len)
{
    cli_answer a;
    if (cli_request(url, method, path, body ? "application/json" : NULL, -1, body,
                    body ? strlen(body) : 0, &a, err, err_len) != 0)
        return -1;
    *status = a.status;
    *resp_body = a.body;
    *resp_len = a.body_len;
    return 0;
}
