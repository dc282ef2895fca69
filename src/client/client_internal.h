/* Private structures of the client library (src/client): the request, the connection and the
 * client, shared by client.c (queue, dispatch, timeouts) and client_conn.c (one connection). */
#ifndef INFERD_CLIENT_INTERNAL_H
#define INFERD_CLIENT_INTERNAL_H

#include <http_parser.h>
#include <sys/socket.h>

#include "inferd/client.h"

typedef struct client_conn client_conn;

typedef struct client_req {
    struct client_req *next;
    inferd_client_cb cb;
    void *user;
    char head[640]; /* request line and headers */
    size_t head_len;
    const void *body; /* not owned */
    size_t body_len;
    uint64_t deadline_ms; /* uv_now() based, 0 = none */
    int err;              /* set by the timeout scan before its connection closes */
    int done;             /* cb has run */
    int written;          /* uv_write issued */
    int write_pending;    /* uv_write issued and its callback not yet run */
    uv_write_t write;
} client_req;

typedef struct client_queue {
    client_req *head, *tail;
    size_t n;
} client_queue;

enum { CONN_CLOSED, CONN_CONNECTING, CONN_OPEN, CONN_CLOSING };

struct client_conn {
    inferd_client *client;
    int state;
    int err; /* why it is closing: what its requests fail with */
    uv_tcp_t tcp;
    uv_connect_t connect;
    client_queue inflight; /* assigned to this connection, answered in this order */
    http_parser parser;
    /* the answer being parsed */
    char *body;
    size_t body_len, body_cap;
    char hfield[40];
    size_t hfield_len;
    int in_value, field_is_ihcl;
    char ihcl[24];
    size_t ihcl_len;
    int ihcl_seen, ihcl_bad;
    char rbuf[65536];
};

struct inferd_client {
    uv_loop_t *loop;
    struct sockaddr_storage addr;
    char host_header[300];
    unsigned nconn, depth;
    uint64_t timeout_ms;
    size_t max_body;
    client_conn *conns;
    client_queue queued;
    size_t pending;
    uv_timer_t timer;
    int timer_on;
    unsigned handles_open; /* timer + every connection not yet closed */
    int closing;
    void (*closed_cb)(void *);
    void *closed_user;
};

void client_queue_push(client_queue *q, client_req *r);
client_req *client_queue_pop(client_queue *q);

/* Runs r's callback once (err, or the answer), and frees r when its write is over. */
void client_req_finish(inferd_client *c, client_req *r, int err,
                       const inferd_client_response *resp);
/* Frees r if its callback has run and no write refers to it. */
void client_req_release(client_req *r);

/* Sends the queued requests that fit onto the connections. */
void client_dispatch(inferd_client *c);
/* A connection handle finished closing (client.c frees the client after the last one). */
void client_handle_closed(inferd_client *c);

/* client_conn.c: assign r to conn (connecting first when closed); returns 0 or a code. */
void client_conn_assign(client_conn *conn, client_req *r);
/* Closes conn; its requests fail with err (or their own r->err) once the handle is closed. */
void client_conn_fail(client_conn *conn, int err);

#endif
