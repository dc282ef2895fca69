/* The client's URL parser (http://host[:port][/]) and its error texts. */
#include <stdio.h>
#include <string.h>

#include "inferd/client.h"

const char *inferd_client_strerror(int err)
{
    switch (err) {
    case 0: return "success";
    case INFERD_CLIENT_E_URL: return "bad URL";
    case INFERD_CLIENT_E_RESOLVE: return "host name does not resolve";
    case INFERD_CLIENT_E_CONNECT: return "cannot connect (is the node running at that URL?)";
    case INFERD_CLIENT_E_CONN: return "connection lost before the answer";
    case INFERD_CLIENT_E_TIMEOUT: return "timed out";
    case INFERD_CLIENT_E_PROTOCOL: return "invalid HTTP answer";
    case INFERD_CLIENT_E_TOO_LARGE: return "answer too large";
    case INFERD_CLIENT_E_NOMEM: return "out of memory";
    case INFERD_CLIENT_E_CLOSED: return "client closed";
    case INFERD_CLIENT_E_INVALID: return "invalid argument";
    default: return "unknown error";
    }
}

int inferd_client_parse_url(const char *url, char *host, size_t host_len, uint16_t *port,
                            char *err, size_t err_len)
{
    static const char scheme[] = "http://";
    if (!url || strncmp(url, scheme, sizeof scheme - 1) != 0) {
        snprintf(err, err_len, "URL '%s' must start with http://", url ? url : "");
        return INFERD_CLIENT_E_URL;
    }
    const char *h = url + sizeof scheme - 1;
    const char *end = h + strcspn(h, "/");
    if (*end && strcmp(end, "/") != 0) {
        snprintf(err, err_len, "URL '%s' must have no path", url);
        return INFERD_CLIENT_E_URL;
    }
    const char *colon = NULL;
    const char *hs = h, *he;
    if (*h == '[') { /* [v6]:port */
        const char *rb = memchr(h, ']', (size_t)(end - h));
        if (!rb) {
            snprintf(err, err_len, "URL '%s': unclosed '['", url);
            return INFERD_CLIENT_E_URL;
        }
        hs = h + 1;
        he = rb;
        if (rb + 1 < end) {
            if (rb[1] != ':') {
                snprintf(err, err_len, "URL '%s': junk after ']'", url);
                return INFERD_CLIENT_E_URL;
            }
            colon = rb + 1;
        }
    } else {
        colon = memchr(h, ':', (size_t)(end - h));
        he = colon ? colon : end;
    }
    size_t hl = (size_t)(he - hs);
    if (hl == 0 || hl >= host_len) {
        snprintf(err, err_len, "URL '%s' has no host or a host too long", url);
        return INFERD_CLIENT_E_URL;
    }
    memcpy(host, hs, hl);
    host[hl] = '\0';
    unsigned long p = 80;
    if (colon) {
        const char *ps = colon + 1;
        if (ps == end || end - ps > 5) {
            snprintf(err, err_len, "URL '%s': bad port", url);
            return INFERD_CLIENT_E_URL;
        }
        p = 0;
        for (const char *q = ps; q < end; q++) {
            if (*q < '0' || *q > '9') {
                snprintf(err, err_len, "URL '%s': bad port", url);
                return INFERD_CLIENT_E_URL;
            }
            p = p * 10 + (unsigned long)(*q - '0');
        }
        if (p == 0 || p > 65535) {
            snprintf(err, err_len, "URL '%s': port out of range", url);
            return INFERD_CLIENT_E_URL;
        }
    }
    *port = (uint16_t)p;
    return 0;
}
