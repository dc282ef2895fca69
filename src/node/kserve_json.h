/* A small JSON tokenizer for the hot, large part of an infer request: the tensors' "data"
 * arrays, which are decoded straight from the request text into the arena (no JSON tree).
 * kj_split cuts those arrays out of the body so the remaining small skeleton can be parsed
 * with jansson. */
#ifndef NODE_KSERVE_JSON_H
#define NODE_KSERVE_JSON_H

#include <stddef.h>
#include <stdint.h>

#define KJ_MAX_SPANS    16 /* inputs whose data is located; more are refused anyway */
#define KJ_SKELETON_MAX (1u << 20)

typedef struct kj_cursor {
    const char *p, *end;
} kj_cursor;

enum kj_kind {
    KJ_END = 0,
    KJ_STRING,
    KJ_NUMBER,
    KJ_TRUE,
    KJ_FALSE,
    KJ_NULL,
    KJ_ARRAY,
    KJ_OBJECT,
    KJ_BAD
};

typedef struct kj_span {
    size_t off, len; /* len 0 = none recorded */
} kj_span;

/* Skips white space; returns the kind of the next value from its first byte. */
int kj_peek(kj_cursor *c);
/* Skips white space and consumes ch. 0, or -1 if the next byte is not ch. */
int kj_expect(kj_cursor *c, char ch);
/* Array iteration after kj_expect(c, '['): returns 1 if an element follows, 0 at the closing
 * ']' (consumed), -1 on a syntax error. *first must start at 1. */
int kj_array_next(kj_cursor *c, int *first);
/* A number. *is_int: no fraction or exponent; then *ival holds it unless *overflow (beyond
 * int64). *dval always holds it as a double. 0 or -1 (not a JSON number). */
int kj_number(kj_cursor *c, int *is_int, int64_t *ival, int *overflow, double *dval);
/* A string, unescaped to UTF-8 into dst (NULL: only measure); *len gets its length. 0 or
 * -1 (bad escape, raw control character, unterminated). */
int kj_string(kj_cursor *c, uint8_t *dst, size_t *len);
/* true / false / null (kind from kj_peek). 0 or -1. */
int kj_literal(kj_cursor *c, int kind);
/* Object iteration after kj_expect(c, '{'): as kj_array_next, for members. */
int kj_object_next(kj_cursor *c, int *first);
/* An object member's key, unescaped into buf, and its ':'. A key too long for buf, or with
 * an embedded NUL, reads as "" (it matches no name). 0 or -1 (malformed). */
int kj_read_key(kj_cursor *c, char *buf, size_t buf_len);
/* Skips one value of any kind (validating its syntax). 0 or -1. */
int kj_skip(kj_cursor *c, int depth);
/* A body that is a JSON object with one member, a string under key (matched as written, no
 * escapes), and nothing else: 0 with *value at that string (for kj_string) and *len its
 * unescaped length; -1 for anything else, malformed or not (the caller's full parser then
 * decides). */
int kj_sole_string(const char *body, size_t body_len, const char *key, kj_cursor *value,
                   size_t *len);

/* Finds the value of every inputs[i].data in a request body and returns a malloc'd copy of
 * the body with each of them replaced by null (the skeleton; caller frees). spans[i] (i <
 * KJ_MAX_SPANS) gets the location of inputs[i].data in body. Returns 0, or -1 with err if
 * the body is not a JSON object or is malformed, or if the skeleton exceeds KJ_SKELETON_MAX. */
int kj_split(const char *body, size_t len, kj_span spans[KJ_MAX_SPANS], char **skeleton,
             size_t *skeleton_len, char *err, size_t err_len);

#endif
