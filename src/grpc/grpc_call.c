/* One gRPC call = one HTTP/2 stream: request headers checked (POST, application/grpc,
 * grpc-timeout), request messages cut out of DATA frames by their 5-byte prefix (bounded by
 * max_message_bytes), response messages queued and pulled by nghttp2's data provider, status
 * in trailers (or a trailers-only response when no message was sent). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "grpc_internal.h"
#include "inferd/clock.h"
#include "inferd/log.h"

/* Drops the partial request message and its share of the server's byte budget. */
static void drop_in(grpc_call *call)
{
    call->srv->inflight_bytes -= call->in_cap;
    free(call->in);
    call->in = NULL;
    call->in_len = call->in_cap = call->in_want = 0;
}

static void call_unref(grpc_call *call)
{
    if (--call->refs > 0) return;
    drop_in(call);
    grpc_outq_free(&call->out);
    grpc_mdlist_free(&call->md_in);
    grpc_mdlist_free(&call->md_head);
    grpc_mdlist_free(&call->md_trail);
    free(call);
}

const char *grpc_call_method(const grpc_call *call)
{
    return call->method;
}
int64_t grpc_call_arrival_ns(const grpc_call *call)
{
    return call->arrival_ns;
}
int64_t grpc_call_timeout_ns(const grpc_call *call)
{
    return call->timeout_ns;
}
int grpc_call_cancelled(const grpc_call *call)
{
    return call->cancelled || !call->conn;
}
void grpc_call_set_user(grpc_call *call, void *user)
{
    call->user = user;
}
void *grpc_call_user(const grpc_call *call)
{
    return call->user;
}
const char *grpc_call_kept_header(const grpc_call *call)
{
    return call->has_kept ? call->kept : NULL;
}
int grpc_call_loop_index(const grpc_call *call)
{
    return call->srv->index;
}
void *grpc_call_uv_loop(const grpc_call *call)
{
    return &call->srv->loop;
}
const grpc_mdlist *grpc_call_metadata(const grpc_call *call)
{
    return &call->md_in;
}

int grpc_call_add_metadata(grpc_call *call, int trailing, const grpc_md *md)
{
    if (call->finished || (!trailing && call->response_sent)) return -3;
    return grpc_mdlist_add(trailing ? &call->md_trail : &call->md_head, (const uint8_t *)md->name,
                           md->name_len, (const uint8_t *)md->value, md->value_len);
}

/* ---- response side ------------------------------------------------------------------- */

#define NV(n, v)                                                                               \
    {                                                                                          \
        (uint8_t *)(n), (uint8_t *)(v), sizeof(n) - 1, strlen(v), NGHTTP2_NV_FLAG_NO_COPY_NAME \
    }

/* Appends l's entries to nv (room for GRPC_MD_MAX_ENTRIES more); returns the new count. */
static size_t add_md(nghttp2_nv *nv, size_t n, const grpc_mdlist *l)
{
    for (size_t i = 0; i < l->n; i++)
        nv[n++] = (nghttp2_nv){(uint8_t *)l->v[i].name, (uint8_t *)l->v[i].value, l->v[i].name_len,
                               l->v[i].value_len, NGHTTP2_NV_FLAG_NONE};
    return n;
}

static void submit_trailers(grpc_call *call)
{
    char code[16];
    snprintf(code, sizeof code, "%d", call->code);
    nghttp2_nv nv[2 + GRPC_MD_MAX_ENTRIES] = {NV("grpc-status", code),
                                              NV("grpc-message", call->message)};
    size_t n = add_md(nv, call->message[0] ? 2 : 1, &call->md_trail);
    nghttp2_submit_trailer(call->conn->session, call->stream_id, nv, n);
}

static ssize_t read_out(nghttp2_session *s, int32_t stream_id, uint8_t *buf, size_t length,
                        uint32_t *data_flags, nghttp2_data_source *source, void *user)
{
    (void)s;
    (void)stream_id;
    (void)user;
    grpc_call *call = source->ptr;
    size_t n = grpc_outq_pull(&call->out, buf, length);
    if (call->drain_fn && call->out.bytes <= call->drain_low) {
        void (*fn)(grpc_call *, void *) = call->drain_fn;
        call->drain_fn = NULL;
        fn(call, call->drain_arg);
    }
    if (!call->out.head && call->finished) {
        *data_flags |= NGHTTP2_DATA_FLAG_EOF | NGHTTP2_DATA_FLAG_NO_END_STREAM;
        submit_trailers(call);
    } else if (n == 0) {
        return NGHTTP2_ERR_DEFERRED;
    }
    return (ssize_t)n;
}

/* Response headers with a data provider the first time, else wake the provider. */
static void kick(grpc_call *call)
{
    grpc_conn *c = call->conn;
    if (!call->response_sent) {
        call->response_sent = 1;
        nghttp2_nv nv[2 + GRPC_MD_MAX_ENTRIES] = {NV(":status", "200"),
                                                  NV("content-type", "application/grpc")};
        size_t n = add_md(nv, 2, &call->md_head);
        nghttp2_data_provider prd = {.source.ptr = call, .read_callback = read_out};
        nghttp2_submit_response(c->session, call->stream_id, nv, n, &prd);
    } else {
        nghttp2_session_resume_data(c->session, call->stream_id); /* fails if not deferred */
    }
    grpc_conn_flush_soon(c);
}

void grpc_call_send(grpc_call *call, uint8_t *buf, size_t len)
{
    if (!call->conn || call->finished || len < GRPC_PREFIX_LEN ||
        len - GRPC_PREFIX_LEN > UINT32_MAX) {
        free(buf);
        return;
    }
    grpc_prefix_write(buf, (uint32_t)(len - GRPC_PREFIX_LEN));
    if (grpc_outq_push(&call->out, buf, len) != 0) return;
    kick(call);
}

void grpc_call_send_raw(grpc_call *call, uint8_t *buf, size_t len)
{
    if (!call->conn || call->finished || !len) {
        free(buf);
        return;
    }
    if (grpc_outq_push(&call->out, buf, len) != 0) return;
    kick(call);
}

size_t grpc_call_out_pending(const grpc_call *call)
{
    return call->out.bytes;
}

void grpc_call_notify_drain(grpc_call *call, size_t low, void (*fn)(grpc_call *call, void *arg),
                            void *arg)
{
    call->drain_fn = fn;
    call->drain_arg = arg;
    call->drain_low = low;
}

/* Ends the stream with the status; used for the service's finish and for calls the server
 * refuses itself. */
static void end_call(grpc_call *call, int code, const char *message)
{
    call->finished = 1;
    call->drain_fn = NULL;
    call->code = code;
    grpc_message_encode(message ? message : "", call->message, sizeof call->message);
    grpc_conn *c = call->conn;
    if (!c) return;
    if (code != GRPC_STATUS_OK)
        log_debug("grpc: %s -> %s: %s", call->method, grpc_status_name(code),
                  message ? message : "");
    if (call->response_sent) {
        kick(call);
        return;
    }
    /* trailers-only: one HEADERS frame with END_STREAM */
    call->response_sent = 1;
    char cs[16];
    snprintf(cs, sizeof cs, "%d", code);
    nghttp2_nv nv[4 + 2 * GRPC_MD_MAX_ENTRIES] = {
        NV(":status", "200"), NV("content-type", "application/grpc"), NV("grpc-status", cs),
        NV("grpc-message", call->message)};
    size_t n = add_md(nv, call->message[0] ? 4 : 3, &call->md_head);
    n = add_md(nv, n, &call->md_trail);
    nghttp2_submit_response(c->session, call->stream_id, nv, n, NULL);
    grpc_conn_flush_soon(c);
}

void grpc_call_finish(grpc_call *call, int code, const char *message)
{
    if (call->finished) { /* refused by the server already; only the reference is left */
        call_unref(call);
        return;
    }
    end_call(call, code, message);
    call_unref(call);
}

int grpc_call_post(grpc_call *call, void (*fn)(grpc_call *call, void *arg), void *arg)
{
    grpc_loop *srv = call->srv;
    grpc_post *p = malloc(sizeof *p);
    if (!p) return -1;
    p->next = NULL;
    p->call = call;
    p->fn = fn;
    p->arg = arg;
    pthread_mutex_lock(&srv->post_lock);
    if (srv->post_closed) {
        pthread_mutex_unlock(&srv->post_lock);
        free(p);
        return -1;
    }
    if (srv->post_tail) srv->post_tail->next = p;
    else srv->post_head = p;
    srv->post_tail = p;
    uv_async_send(&srv->async); /* under the lock: the handle cannot close in between */
    pthread_mutex_unlock(&srv->post_lock);
    return 0;
}

/* The server answers a call before (or instead of) the service: bad headers, bad framing.
 * The service, if it has the call, still finishes it (then only its reference drops). */
static void refuse(grpc_call *call, int code, const char *message)
{
    if (call->finished) return;
    int had = call->started;
    end_call(call, code, message);
    call->discard = 1;
    if (had && call->srv->h.on_cancel) {
        call->cancelled = 1;
        call->srv->h.on_cancel(call, call->srv->ctx);
    }
}

/* ---- request side: nghttp2 callbacks ------------------------------------------------- */

int grpc_call_on_begin_headers(nghttp2_session *s, const nghttp2_frame *frame, void *user)
{
    grpc_conn *c = user;
    if (frame->hd.type != NGHTTP2_HEADERS || frame->headers.cat != NGHTTP2_HCAT_REQUEST) return 0;
    grpc_call *call = calloc(1, sizeof *call);
    if (!call) return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE; /* the stream is reset */
    call->srv = c->srv;
    call->conn = c;
    call->stream_id = frame->hd.stream_id;
    call->refs = 1;
    call->timeout_ns = -1;
    call->arrival_ns = clock_now_ns();
    call->next = c->calls;
    if (c->calls) c->calls->prev = call;
    c->calls = call;
    nghttp2_session_set_stream_user_data(s, frame->hd.stream_id, call);
    return 0;
}

static void copy_value(char *dst, size_t cap, const uint8_t *v, size_t len)
{
    if (len >= cap) len = cap - 1;
    memcpy(dst, v, len);
    dst[len] = '\0';
}

int grpc_call_on_header(nghttp2_session *s, const nghttp2_frame *frame, const uint8_t *name,
                        size_t namelen, const uint8_t *value, size_t valuelen, uint8_t flags,
                        void *user)
{
    (void)flags;
    (void)user;
    if (frame->hd.type != NGHTTP2_HEADERS || frame->headers.cat != NGHTTP2_HCAT_REQUEST) return 0;
    grpc_call *call = nghttp2_session_get_stream_user_data(s, frame->hd.stream_id);
    if (!call) return 0;
    if (namelen == 5 && memcmp(name, ":path", 5) == 0) {
        copy_value(call->method, sizeof call->method, value, valuelen);
        if (valuelen >= sizeof call->method) call->method[0] = '\0'; /* unknown method */
    } else if (namelen == 12 && memcmp(name, "content-type", 12) == 0) {
        copy_value(call->content_type, sizeof call->content_type, value, valuelen);
    } else if (namelen == 12 && memcmp(name, "grpc-timeout", 12) == 0) {
        if (grpc_timeout_parse((const char *)value, valuelen, &call->timeout_ns) != 0)
            call->bad_timeout = 1;
    } else if (call->srv->opts.keep_header && namelen == strlen(call->srv->opts.keep_header) &&
               memcmp(name, call->srv->opts.keep_header, namelen) == 0) {
        copy_value(call->kept, sizeof call->kept, value, valuelen);
        call->has_kept = 1;
    }
    if (call->srv->opts.keep_metadata && !call->md_err && grpc_md_custom_request(name, namelen))
        call->md_err = grpc_mdlist_add(&call->md_in, name, namelen, value, valuelen);
    return 0;
}

static void start_call(grpc_call *call)
{
    grpc_loop *srv = call->srv;
    if (strncmp(call->content_type, "application/grpc", 16) != 0 ||
        (call->content_type[16] != '\0' && call->content_type[16] != '+' &&
         call->content_type[16] != ';')) {
        /* not gRPC at all: still answered the gRPC way, which any client can read */
        refuse(call, GRPC_STATUS_INVALID_ARGUMENT,
               "content-type must be application/grpc (this port speaks gRPC only)");
        return;
    }
    if (call->bad_timeout) {
        refuse(call, GRPC_STATUS_INVALID_ARGUMENT,
               "malformed grpc-timeout header (1 to 8 digits and a unit of H M S m u n)");
        return;
    }
    if (call->md_err) {
        char msg[160];
        if (call->md_err == -1) snprintf(msg, sizeof msg, "out of memory for the request metadata");
        else
            snprintf(msg, sizeof msg,
                     "request metadata exceeds %d entries or %d bytes (names + values + 32 each)",
                     GRPC_MD_MAX_ENTRIES, GRPC_MD_MAX_BYTES);
        refuse(call, GRPC_STATUS_RESOURCE_EXHAUSTED, msg);
        return;
    }
    call->started = 1;
    call->refs++; /* the service's, until grpc_call_finish */
    srv->h.on_call(call, srv->ctx);
}

static void half_close(grpc_call *call)
{
    if (call->half_closed) return;
    call->half_closed = 1;
    if (call->discard || call->finished || !call->started) return;
    if (call->prefix_len || call->in_len) {
        refuse(call, GRPC_STATUS_INTERNAL, "the request ended inside a message");
        return;
    }
    call->srv->h.on_half_close(call, call->srv->ctx);
}

int grpc_call_on_frame_recv(nghttp2_session *s, const nghttp2_frame *frame, void *user)
{
    (void)user;
    grpc_call *call = nghttp2_session_get_stream_user_data(s, frame->hd.stream_id);
    if (!call) return 0;
    if (frame->hd.type == NGHTTP2_HEADERS && frame->headers.cat == NGHTTP2_HCAT_REQUEST)
        start_call(call);
    if ((frame->hd.type == NGHTTP2_HEADERS || frame->hd.type == NGHTTP2_DATA) &&
        (frame->hd.flags & NGHTTP2_FLAG_END_STREAM))
        half_close(call);
    return 0;
}

/* Appends up to len bytes of the current message; returns how many were taken. */
static size_t take_body(grpc_call *call, const uint8_t *data, size_t len)
{
    size_t room = call->in_want - call->in_len;
    size_t take = len < room ? len : room;
    if (call->in_len + take > call->in_cap) {
        /* grow with the data, not with the claimed length: a prefix costs nothing to lie */
        size_t cap = call->in_cap ? call->in_cap * 2 : 4096;
        while (cap < call->in_len + take) cap *= 2;
        if (cap > call->in_want) cap = call->in_want;
        size_t limit = call->srv->opts.max_inflight_bytes;
        if (limit && call->srv->inflight_bytes - call->in_cap + cap > limit) return (size_t)-2;
        uint8_t *p = realloc(call->in, cap ? cap : 1);
        if (!p) return (size_t)-1;
        call->srv->inflight_bytes += cap - call->in_cap;
        call->in = p;
        call->in_cap = cap;
    }
    if (take) memcpy(call->in + call->in_len, data, take);
    call->in_len += take;
    return take;
}

int grpc_call_on_data(nghttp2_session *s, uint8_t flags, int32_t stream_id, const uint8_t *data,
                      size_t len, void *user)
{
    (void)flags;
    (void)user;
    grpc_call *call = nghttp2_session_get_stream_user_data(s, stream_id);
    while (call && !call->discard && !call->finished && call->started && len) {
        if (call->prefix_len < GRPC_PREFIX_LEN) {
            size_t take = GRPC_PREFIX_LEN - call->prefix_len;
            if (take > len) take = len;
            memcpy(call->prefix + call->prefix_len, data, take);
            call->prefix_len += take;
            data += take;
            len -= take;
            if (call->prefix_len < GRPC_PREFIX_LEN) break;
            int compressed;
            uint32_t mlen;
            grpc_prefix_read(call->prefix, &compressed, &mlen);
            if (compressed) {
                refuse(call, GRPC_STATUS_UNIMPLEMENTED,
                       "compressed messages are not supported (grpc-encoding identity only)");
                break;
            }
            if (mlen > call->srv->opts.max_message_bytes) {
                char msg[160];
                snprintf(msg, sizeof msg,
                         "request message of %u bytes exceeds the limit of %zu bytes "
                         "(--grpc-max-message-bytes)",
                         mlen, call->srv->opts.max_message_bytes);
                refuse(call, GRPC_STATUS_RESOURCE_EXHAUSTED, msg);
                break;
            }
            call->in_want = mlen;
            call->in_len = 0;
        }
        size_t took = take_body(call, data, len);
        if (took == (size_t)-1 || took == (size_t)-2) {
            drop_in(call);
            refuse(call, GRPC_STATUS_RESOURCE_EXHAUSTED,
                   took == (size_t)-1 ? "out of memory for the request message"
                                      : "the node holds too many request bytes at once; try "
                                        "again later");
            break;
        }
        data += took;
        len -= took;
        if (call->in_len == call->in_want) {
            uint8_t *msg = call->in;
            size_t mlen = call->in_len, cap = call->in_cap;
            call->in = NULL;
            call->in_len = call->in_cap = call->in_want = 0;
            call->prefix_len = 0;
            /* Given back before the service has it, so before any answer it gives: the
             * service runs on this loop, whose budget nothing else can take meanwhile. */
            call->srv->inflight_bytes -= cap;
            call->srv->h.on_message(call, msg ? msg : (const uint8_t *)"", mlen, call->srv->ctx);
            free(msg);
        }
    }
    return 0;
}

void grpc_call_stream_gone(grpc_call *call)
{
    grpc_conn *c = call->conn;
    if (!c) return;
    if (call->prev) call->prev->next = call->next;
    else c->calls = call->next;
    if (call->next) call->next->prev = call->prev;
    call->prev = call->next = NULL;
    call->conn = NULL;
    if (c->session) nghttp2_session_set_stream_user_data(c->session, call->stream_id, NULL);
    call->drain_fn = NULL;
    if (call->started && !call->finished) {
        call->cancelled = 1;
        if (call->srv->h.on_cancel) call->srv->h.on_cancel(call, call->srv->ctx);
    }
    call_unref(call);
}

int grpc_call_on_stream_close(nghttp2_session *s, int32_t stream_id, uint32_t error_code,
                              void *user)
{
    (void)error_code;
    (void)user;
    grpc_call *call = nghttp2_session_get_stream_user_data(s, stream_id);
    if (call) grpc_call_stream_gone(call);
    return 0;
}
