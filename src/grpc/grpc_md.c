/* Custom metadata of a gRPC call (grpc_mdlist in include/inferd/grpc_server.h): a bounded list
 * of name/value pairs, and which headers count as custom metadata a proxy passes on. */
#include <stdlib.h>
#include <string.h>

#include "inferd/grpc_server.h"

int grpc_mdlist_add(grpc_mdlist *l, const uint8_t *name, size_t nl, const uint8_t *value, size_t vl)
{
    if (nl > GRPC_MD_MAX_BYTES || vl > GRPC_MD_MAX_BYTES) return -2;
    size_t cost = nl + vl + 32; /* as HTTP/2 counts a header list's size */
    if (l->n >= GRPC_MD_MAX_ENTRIES || l->bytes + cost > GRPC_MD_MAX_BYTES) return -2;
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 8;
        grpc_md *v = realloc(l->v, cap * sizeof *v);
        if (!v) return -1;
        l->v = v;
        l->cap = cap;
    }
    char *p = malloc(nl + vl + 2); /* name NUL value NUL: both bounded above */
    if (!p) return -1;
    memcpy(p, name, nl);
    p[nl] = '\0';
    if (vl) memcpy(p + nl + 1, value, vl);
    p[nl + 1 + vl] = '\0';
    l->v[l->n++] = (grpc_md){p, p + nl + 1, nl, vl};
    l->bytes += cost;
    return 0;
}

int grpc_mdlist_copy(grpc_mdlist *dst, const grpc_mdlist *src)
{
    for (size_t i = 0; src && i < src->n; i++) {
        const grpc_md *m = &src->v[i];
        int rc = grpc_mdlist_add(dst, (const uint8_t *)m->name, m->name_len,
                                 (const uint8_t *)m->value, m->value_len);
        if (rc != 0) return rc;
    }
    return 0;
}

void grpc_mdlist_free(grpc_mdlist *l)
{
    for (size_t i = 0; i < l->n; i++) free(l->v[i].name);
    free(l->v);
    memset(l, 0, sizeof *l);
}

static int is_in(const uint8_t *name, size_t len, const char *const *set)
{
    for (; *set; set++)
        if (strlen(*set) == len && memcmp(*set, name, len) == 0) return 1;
    return 0;
}

/* Headers of the transport: hop-by-hop (RFC 9113 8.2.2), framing, and the message encoding
 * (the gateway forwards identity messages only). */
static const char *const transport_headers[] = {"connection",
                                                "keep-alive",
                                                "proxy-connection",
                                                "transfer-encoding",
                                                "upgrade",
                                                "te",
                                                "host",
                                                "content-type",
                                                "content-length",
                                                "grpc-encoding",
                                                "grpc-accept-encoding",
                                                "accept-encoding",
                                                NULL};

int grpc_md_custom_request(const uint8_t *name, size_t len)
{
    if (!len || name[0] == ':') return 0;
    if (len == 12 && memcmp(name, "grpc-timeout", 12) == 0) return 0; /* rewritten as time left */
    return !is_in(name, len, transport_headers);
}

int grpc_md_custom_response(const uint8_t *name, size_t len)
{
    static const char *const status[] = {"grpc-status", "grpc-message", NULL};
    if (!len || name[0] == ':') return 0;
    return !is_in(name, len, transport_headers) && !is_in(name, len, status);
}
