/* Small jansson helpers shared by the subcommands that read the node's JSON answers. */
#include <stdio.h>

#include "cli_json.h"

json_t *cli_json_get(const char *url, const char *method, const char *path, const char *body,
                     char *err, size_t err_len)
{
    int status;
    char *text;
    size_t len;
    if (cli_fetch(url, method, path, body, &status, &text, &len, err, err_len) != 0)
        return NULL;
    json_error_t jerr;
    json_t *j = json_loadb(text, len, 0, &jerr);
    if (status != 200) {
        json_t *e = j ? json_object_get(j, "error") : NULL;
        snprintf(err, err_len, "%s %s: HTTP %d: %s", method, path, status,
                 json_is_string(e) ? json_string_value(e) : text);
        json_decref(j);
        free(text);
        return NULL;
    }
    if (!j)
        snprintf(err, err_len, "%s %s: the answer is not JSON (%s)", method, path, jerr.text);
    free(text);
    return j;
}

double cli_json_num(json_t *obj, const char *path)
{
    char key[64];
    const char *p = path;
    json_t *cur = obj;
    while (cur && *p) {
        size_t n = strcspn(p, ".");
        if (n >= sizeof key)
            return 0;
        memcpy(key, p, n);
        key[n] = '\0';
        cur = json_object_get(cur, key);
        p += n + (p[n] == '.');
    }
    return json_is_number(cur) ? json_number_value(cur) : 0;
}

const char *cli_json_str(json_t *obj, const char *key, const char *dflt)
{
    const char *s = json_string_value(json_object_get(obj, key));
    return s ? s : dflt;
}
