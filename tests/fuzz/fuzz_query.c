/*
 * libFuzzer harness: query-string parameters of the read endpoints (server/query.h).
 *
 * The input is split on '&' into at most 16 "name=value" pairs (NUL-terminated copies; value NULL
 * when there is no '='), which go to query_parse with every parameter allowed, then to query_key.
 * No URL decoding: the HTTP layer hands over decoded strings, and any bytes may come out of that.
 *
 * Invariants (abort() when broken): a successful parse has no errors, from < to when both are
 * given, a limit of 1..1000, a 26-character cursor id; a failed parse has at least one error;
 * query_key holds every filter value whole.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "query.h"
#include "validate.h"

#define MAX_PARAMS 16
#define ALLOWED_ALL_BITS ((1u << 11) - 1) /* QUERY_FROM .. QUERY_FORMAT */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *copy = malloc(size + 1);
    struct query_param params[MAX_PARAMS];
    int n = 0;

    if (copy == NULL)
        return 0;
    memcpy(copy, data, size);
    copy[size] = '\0';
    /* Pairs are split at each '&' (an embedded NUL cuts a pair short, as in a C string); the 16th
     * pair takes the rest. */
    for (char *p = copy; n < MAX_PARAMS;) {
        char *amp = memchr(p, '&', size - (size_t)(p - copy));
        if (amp)
            *amp = '\0';
        char *eq = strchr(p, '=');
        if (eq)
            *eq = '\0';
        params[n].name = p;
        params[n].value = eq ? eq + 1 : NULL;
        n++;
        if (amp == NULL)
            break;
        p = amp + 1;
    }

    struct query q;
    struct validate_errors errors;
    validate_errors_init(&errors);
    bool ok = query_parse(params, n, ALLOWED_ALL_BITS, &q, &errors);
    if (ok) {
        if (errors.count != 0 || errors.list != NULL)
            abort();
        if (q.has_from && q.has_to && !(q.from_ms < q.to_ms))
            abort();
        if (q.limit < 1 || q.limit > QUERY_LIMIT_MAX)
            abort();
        if (q.has_cursor && (q.cursor_ms < 0 || strlen(q.cursor_id) != 26))
            abort();
    } else if (errors.count < 1) {
        abort();
    }

    /* The key encodes every field in full: each filter value appears in it whole. */
    char *key = query_key("fuzz", &q);
    if (key == NULL)
        abort();
    if (ok && q.agent && strstr(key, q.agent) == NULL)
        abort();
    free(key);

    validate_errors_free(&errors);
    free(copy);
    return 0;
}
