/* Small jansson helpers shared by the subcommands that read the node's JSON answers. */
#ifndef INFERD_CLI_JSON_H
#define INFERD_CLI_JSON_H

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

/* cli_fetch, then a 200 answer parsed as JSON (new reference, caller decrefs); NULL with a
 * message in err otherwise (quoting the node's "error" text). */
json_t *cli_json_get(const char *url, const char *method, const char *path, const char *body,
                     char *err, size_t err_len);

/* The number at a dotted path ("inference_stats.queue.ns"), 0 when absent. */
double cli_json_num(json_t *obj, const char *path);

/* The string member key of obj, or dflt when absent or not a string. */
const char *cli_json_str(json_t *obj, const char *key, const char *dflt);

#endif
