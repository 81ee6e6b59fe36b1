/*
 * libFuzzer harness: pagination cursors (server/query.h query_cursor_encode / query_cursor_decode).
 *
 * 1. The input, NUL-terminated, is decoded; a cursor that decodes re-encodes to one that decodes to
 *    the same (ms, id).
 * 2. The input's first 8 bytes are taken as ms (little-endian int64, zero-padded) and the next 26 as
 *    a response id over [a-z2-7] (byte & 31, cycling when short); encoding then decoding must give
 *    them back exactly when 0 <= ms <= 999999999999999 (15 digits, what decode accepts), and decode
 *    must refuse the cursor otherwise.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "query.h"

#define CURSOR_MS_MAX INT64_C(999999999999999)

static void round_trip(int64_t ms, const char *id, bool expect_ok)
{
    char cursor[64], id_back[32];
    int64_t ms_back = -1;

    memset(cursor, 0x55, sizeof cursor);
    query_cursor_encode(ms, id, cursor, sizeof cursor);
    if (memchr(cursor, '\0', sizeof cursor) == NULL)
        abort();
    bool ok = query_cursor_decode(cursor, &ms_back, id_back);
    if (ok != expect_ok)
        abort();
    if (ok && (ms_back != ms || strcmp(id_back, id) != 0))
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char alphabet[] = "abcdefghijklmnopqrstuvwxyz234567";

    /* 1: decode -> encode -> decode. */
    char *text = malloc(size + 1);
    if (text == NULL)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    int64_t ms;
    char id[32];
    if (query_cursor_decode(text, &ms, id)) {
        if (ms < 0 || ms > CURSOR_MS_MAX || strlen(id) != 26)
            abort();
        round_trip(ms, id, true);
    }
    free(text);

    /* 2: (ms, id) from raw bytes -> encode -> decode. */
    uint64_t bits = 0;
    for (size_t i = 0; i < 8 && i < size; i++)
        bits |= (uint64_t)data[i] << (8 * i);
    ms = (int64_t)bits;
    for (size_t i = 0; i < 26; i++)
        id[i] = alphabet[size > 8 ? data[8 + i % (size - 8)] & 31 : i & 31];
    id[26] = '\0';
    round_trip(ms, id, ms >= 0 && ms <= CURSOR_MS_MAX);
    return 0;
}
