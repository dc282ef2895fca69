/* Inside the gRPC server: the loop, its connections (one nghttp2 session each) and calls (one
 * HTTP/2 stream each). Everything here is touched only on the loop thread, except the post
 * queue (post_lock). */
#ifndef GRPC_INTERNAL_H
#define GRPC_INTERNAL_H

#include <nghttp2/nghttp2.h>
#include <pthread.h>
#include <stdatomic.h>
#include <uv.h>

#include "inferd/grpc_server.h"

typedef struct grpc_conn grpc_conn;
typedef struct grpc_loop grpc_loop;

struct grpc_call {
    grpc_loop *srv;
    grpc_conn *conn; /* NULL once the stream is gone */
    int32_t stream_id;
    int refs;               /* the stream's, and the service's from on_call to grpc_call_finish */
    grpc_call *prev, *next; /* in conn->calls while the stream lives */
    char method[256];
    char content_type[64];
    char kept[256]; /* grpc_options.keep_header's value */
    unsigned has_kept : 1;
    grpc_mdlist md_in;             /* request custom metadata (opts.keep_metadata) */
    int md_err;                    /* grpc_mdlist_add's error while keeping it, else 0 */
    grpc_mdlist md_head, md_trail; /* response metadata (grpc_call_add_metadata) */
    int64_t arrival_ns, timeout_ns;
    int bad_timeout;
    unsigned started : 1, half_closed : 1, finished : 1, cancelled : 1, response_sent : 1,
        discard : 1;
    int code;          /* with finished */
    char message[512]; /* percent-encoded */
    /* the request message being assembled */
    uint8_t prefix[GRPC_PREFIX_LEN];
    size_t prefix_len;
    uint8_t *in;
    size_t in_len, in_cap, in_want;
    grpc_outq out; /* response messages, prefixes included */
    void *user;
    void (*drain_fn)(grpc_call *call, void *arg); /* grpc_call_notify_drain */
    void *drain_arg;
    size_t drain_low;
};

struct grpc_conn {
    grpc_loop *srv;
    uv_tcp_t tcp;
    nghttp2_session *session;
    grpc_conn *prev, *next;
    grpc_call *calls;
    int busy;   /* inside nghttp2_session_mem_recv / mem_send: no re-entry */
    int again;  /* a flush was asked while busy */
    int closed; /* conn_close ran: waiting for the handle's close */
    int reading;
    int dirty; /* on srv->dirty: flush once the current batch of posts has run, or at the
                  loop's next idle phase (grpc_conn_flush_soon) */
    grpc_conn *next_dirty;
    size_t write_pending; /* bytes handed to uv_write, not yet written */
    uint8_t *wbuf;        /* frames gathered for the next uv_write */
    size_t wlen, wcap;
    int64_t last_activity_ns;
    int ping_sent;
    uint8_t rbuf[65536];
};

typedef struct grpc_post {
    struct grpc_post *next;
    grpc_call *call;
    void (*fn)(grpc_call *call, void *arg);
    void *arg;
} grpc_post;

/* One event-loop thread of the server: its own listener on the shared port (SO_REUSEPORT),
 * connections, posts and tick. */
#define GRPC_MAX_LOOPS 16

struct grpc_loop {
    grpc_options opts; /* this loop's share of the limits */
    int index;         /* in grpc_server.loops */
    grpc_handler h;
    void *ctx;
    char host[64];
    int port;
    uv_loop_t loop;
    pthread_t thread;
    int thread_started;
    uv_tcp_t listener;
    int listener_open;
    uv_timer_t tick;
    uv_async_t async; /* posts and control */
    pthread_mutex_t post_lock;
    grpc_post *post_head, *post_tail;
    int post_closed;
    atomic_int phase; /* 0 running, 1 stop accepting, 2 wind down, 3 close everything */
    int phase_seen;
    grpc_conn *conns;
    int n_conns;
    size_t inflight_bytes;     /* sum of every call's in_cap (partial request messages) */
    int deferring;             /* running posts: flushes wait for the end of the batch */
    grpc_conn *dirty;          /* connections to flush then */
    uv_idle_t idle;            /* flushes dirty connections (grpc_conn_flush_soon) */
    atomic_int n_conns_shared; /* for the shutdown wait and metrics */
    _Atomic uint64_t accepted; /* connections taken on since start (metrics) */
};

struct grpc_server {
    int n_loops;
    int port;
    grpc_loop *loops[GRPC_MAX_LOOPS];
};

/* grpc_conn.c */
void grpc_conn_accept(grpc_loop *srv);
void grpc_conn_flush(grpc_conn *c);
/* As flush, but for answers sent from the service's own I/O callbacks (not posts): frames
 * of many calls gathered into one write, at the loop's next idle phase (grpc_server.c). */
void grpc_conn_flush_soon(grpc_conn *c);
void grpc_conn_close(grpc_conn *c);
void grpc_conn_goaway(grpc_conn *c, uint32_t error_code);
void grpc_conn_tick(grpc_conn *c, int64_t now_ns);

/* grpc_call.c: nghttp2 callbacks about streams, and the data provider */
int grpc_call_on_begin_headers(nghttp2_session *s, const nghttp2_frame *frame, void *user);
int grpc_call_on_header(nghttp2_session *s, const nghttp2_frame *frame, const uint8_t *name,
                        size_t namelen, const uint8_t *value, size_t valuelen, uint8_t flags,
                        void *user);
int grpc_call_on_frame_recv(nghttp2_session *s, const nghttp2_frame *frame, void *user);
int grpc_call_on_data(nghttp2_session *s, uint8_t flags, int32_t stream_id, const uint8_t *data,
                      size_t len, void *user);
int grpc_call_on_stream_close(nghttp2_session *s, int32_t stream_id, uint32_t error_code,
                              void *user);
/* The stream went away (closed, reset, connection gone): detach from the connection, tell
 * the service, drop the stream's reference. */
void grpc_call_stream_gone(grpc_call *call);

#endif
