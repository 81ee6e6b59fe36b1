#include "ids.h"

#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/random.h>

bool ids_random_bytes(void *buf, size_t len)
{
    unsigned char *p = buf;
    while (len > 0) {
        ssize_t n = getrandom(p, len, 0);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return false;
        }
        p += n;
        len -= (size_t)n;
    }
    return true;
}

const char ids_base32_alphabet[] = "abcdefghijklmnopqrstuvwxyz234567";

bool ids_random_base32(char *out, size_t chars)
{
    unsigned char raw[64];
    size_t need = (chars * 5 + 7) / 8;

    if (need > sizeof raw || !ids_random_bytes(raw, need))
        return false;
    unsigned bits = 0, acc = 0;
    size_t o = 0, i = 0;
    while (o < chars) {
        if (bits < 5) {
            acc = (acc << 8) | raw[i++];
            bits += 8;
        }
        out[o++] = ids_base32_alphabet[(acc >> (bits - 5)) & 31];
        bits -= 5;
    }
    out[o] = '\0';
    explicit_bzero(raw, sizeof raw); /* the bits of a token are a secret */
    return true;
}

/* The same 32 characters as ids_base32_alphabet, in ASCII order, so that ids compare (memcmp, SQLite's
 * BINARY collation) in the order of the numbers they encode. */
static const char sorted_base32[] = "234567abcdefghijklmnopqrstuvwxyz";

/* 48 bits of milliseconds since the epoch, then 82 random bits: 130 bits, 26 characters. Ids made
 * later sort after ids made earlier, so the UNIQUE index on responses.id grows at its right edge
 * (a few hot pages per commit) instead of taking a random leaf per insert, which cost a page
 * read and a WAL frame per response once the index outgrew the page cache. 82 random bits per
 * millisecond keep an id unguessable. Ids of older surveyds (130 random bits) use the same
 * characters and length and stay valid. */
bool ids_new_response_id(char *out, int64_t now_ms)
{
    unsigned char raw[17]; /* 136 bits, of which 130 are used */
    uint64_t ms = (uint64_t)now_ms & ((UINT64_C(1) << 48) - 1);

    for (int i = 0; i < 6; i++)
        raw[i] = (unsigned char)(ms >> (40 - 8 * i));
    if (!ids_random_bytes(raw + 6, sizeof raw - 6))
        return false;
    unsigned bits = 0, acc = 0;
    size_t i = 0;
    for (size_t o = 0; o < IDS_RESPONSE_LEN; o++) {
        if (bits < 5) {
            acc = (acc << 8) | raw[i++];
            bits += 8;
        }
        out[o] = sorted_base32[(acc >> (bits - 5)) & 31];
        bits -= 5;
    }
    out[IDS_RESPONSE_LEN] = '\0';
    return true;
}

bool ids_random_hex(char *out, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    unsigned char raw[64];

    if (len > sizeof raw || !ids_random_bytes(raw, len))
        return false;
    for (size_t i = 0; i < len; i++) {
        out[2 * i] = hex[raw[i] >> 4];
        out[2 * i + 1] = hex[raw[i] & 15];
    }
    out[2 * len] = '\0';
    return true;
}

static bool slug_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
}

bool ids_valid_slug(const char *id)
{
    size_t n = 0;
    if (id == NULL || !((id[0] >= 'a' && id[0] <= 'z') || (id[0] >= '0' && id[0] <= '9')))
        return false;
    for (; id[n] != '\0'; n++) {
        if (n >= 64 || !slug_char(id[n]))
            return false;
    }
    return true;
}
