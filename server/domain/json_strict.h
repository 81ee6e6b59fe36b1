/*
 * Strict RFC 8259 validator for request bodies.
 *
 * cJSON is lenient (leading zeros, "2.", raw control characters in strings,
 * malformed \u escapes, no UTF-8 checking, ...), so every body is first run
 * through this single-pass scanner and only handed to cJSON when it passes.
 * The scanner builds nothing and allocates nothing.
 */
#ifndef SURVEYD_JSON_STRICT_H
#define SURVEYD_JSON_STRICT_H

#include <stdbool.h>
#include <stddef.h>

#define JSON_STRICT_MAX_DEPTH 32

/* The nesting stack lives on the C stack as a bit array, so the depth the
 * caller can ask for is capped; larger max_depth values are clamped to this. */
#define JSON_STRICT_DEPTH_LIMIT 4096

struct json_strict_result {
    size_t offset;          /* byte offset of the first error */
    const char *message;    /* static string describing the error, e.g. "leading zero in number" */
    bool too_deep;          /* the error is nesting deeper than max_depth */
    bool has_nul_escape;    /* valid JSON, but some string contains \u0000 (caller rejects that as a validation error) */
};

/* True when buf[0..len) is exactly one JSON text per RFC 8259 (whitespace only space, tab, LF, CR
 * around and between tokens; any value at top level), all bytes valid UTF-8 (no overlongs, no
 * surrogates encoded in UTF-8, nothing above U+10FFFF), no BOM, every \u escape well-formed and
 * surrogate escapes properly paired (a lone \uD800 or \uDC00 is rejected), arrays/objects nested at
 * most max_depth deep (an array or object at top level is depth 1). On false, *res says where and why.
 * res->has_nul_escape is set on success when any string (key or value) contains \u0000.
 *
 * buf need not be NUL-terminated and is never read at or past buf + len; buf may be NULL when
 * len is 0. res may be NULL when the caller only wants the verdict. max_depth below 0 is treated
 * as 0 (only scalars accepted), above JSON_STRICT_DEPTH_LIMIT as JSON_STRICT_DEPTH_LIMIT. */
bool json_strict_check(const char *buf, size_t len, int max_depth, struct json_strict_result *res);

#endif /* SURVEYD_JSON_STRICT_H */
