/* Standard Webhooks signatures (webhook_sign.h): HMAC-SHA256 over id "." timestamp "." body, keyed
 * with the base64-decoded part of a "whsec_" secret, written "v1,<base64>". */
#include "webhook_sign.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include "ids.h"

#define SECRET_RANDOM_BYTES 24
#define HMAC_LEN 32                 /* SHA-256 */
#define KEY_MAX ((WEBHOOK_SECRET_MAX / 4 + 1) * 3)
#define SIGNATURE_B64_LEN 44        /* 4 * ceil(32 / 3) */

bool webhook_sign_new_secret(char out[WEBHOOK_SECRET_MAX])
{
    unsigned char raw[SECRET_RANDOM_BYTES];
    const size_t prefix = sizeof WEBHOOK_SECRET_PREFIX - 1;

    if (!ids_random_bytes(raw, sizeof raw))
        return false;
    memcpy(out, WEBHOOK_SECRET_PREFIX, prefix);
    /* 24 bytes encode to exactly 32 characters, no padding, plus the NUL EVP_EncodeBlock writes. */
    EVP_EncodeBlock((unsigned char *)out + prefix, raw, sizeof raw);
    OPENSSL_cleanse(raw, sizeof raw); /* the key itself */
    return true;
}

/* The key of a secret: the base64 after "whsec_", decoded. EVP_DecodeBlock wants a multiple of 4
 * characters and counts the bytes '=' padding stands for as zeros of its output, so padding that a
 * secret made elsewhere left out is put back first, and what it stands for taken off after. */
static bool decode_key(const char *secret, unsigned char *key, size_t *key_len)
{
    const size_t prefix = sizeof WEBHOOK_SECRET_PREFIX - 1;
    char text[WEBHOOK_SECRET_MAX + 4];
    size_t len, pad = 0;
    bool ok = false;

    if (!secret || strncmp(secret, WEBHOOK_SECRET_PREFIX, prefix) != 0)
        return false;
    secret += prefix;
    len = strlen(secret);
    if (len == 0 || len >= WEBHOOK_SECRET_MAX || len % 4 == 1)
        return false;
    memcpy(text, secret, len);
    while (len % 4 != 0)
        text[len++] = '=';
    text[len] = '\0';
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)text[i];
        if (c == '=') {
            /* padding only at the end, at most two */
            if (len - i > 2)
                goto done;
            pad++;
        } else if (pad > 0 || !(c == '+' || c == '/' || (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') ||
                                (c >= 'a' && c <= 'z'))) {
            goto done;
        }
    }
    int n = EVP_DecodeBlock(key, (const unsigned char *)text, (int)len);
    if (n < 0 || (size_t)n < pad || (size_t)n - pad == 0)
        goto done;
    *key_len = (size_t)n - pad; /* (HMAC pads a short key with zeros anyway, but a key over 64 bytes is hashed) */
    ok = true;
done:
    OPENSSL_cleanse(text, sizeof text);
    return ok;
}

static bool hmac_sha256(const unsigned char *key, size_t key_len, const char *id, const char *stamp,
                        const char *body, size_t body_len, unsigned char mac[HMAC_LEN])
{
    EVP_MAC *hmac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    EVP_MAC_CTX *ctx = hmac ? EVP_MAC_CTX_new(hmac) : NULL;
    char digest[] = "SHA256";
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
        OSSL_PARAM_construct_end(),
    };
    size_t out_len = 0;
    bool ok = ctx && EVP_MAC_init(ctx, key, key_len, params) == 1 &&
              EVP_MAC_update(ctx, (const unsigned char *)id, strlen(id)) == 1 &&
              EVP_MAC_update(ctx, (const unsigned char *)".", 1) == 1 &&
              EVP_MAC_update(ctx, (const unsigned char *)stamp, strlen(stamp)) == 1 &&
              EVP_MAC_update(ctx, (const unsigned char *)".", 1) == 1 &&
              (body_len == 0 || EVP_MAC_update(ctx, (const unsigned char *)body, body_len) == 1) &&
              EVP_MAC_final(ctx, mac, &out_len, HMAC_LEN) == 1 && out_len == HMAC_LEN;

    EVP_MAC_CTX_free(ctx);
    EVP_MAC_free(hmac);
    return ok;
}

/* Appends "v1,<base64 signature>" to out at *used, a space first when something is there already. */
static bool append_signature(const char *secret, const char *id, const char *stamp, const char *body,
                             size_t body_len, char *out, size_t out_size, size_t *used)
{
    unsigned char key[KEY_MAX];
    unsigned char mac[HMAC_LEN];
    size_t key_len = 0;
    bool ok = false;
    const size_t need = (*used > 0 ? 1 : 0) + 3 + SIGNATURE_B64_LEN + 1;

    if (out_size - *used < need || !decode_key(secret, key, &key_len))
        goto done;
    if (!hmac_sha256(key, key_len, id, stamp, body, body_len, mac))
        goto done;
    if (*used > 0)
        out[(*used)++] = ' ';
    memcpy(out + *used, "v1,", 3);
    *used += 3;
    *used += (size_t)EVP_EncodeBlock((unsigned char *)out + *used, mac, HMAC_LEN);
    ok = true;
done:
    OPENSSL_cleanse(key, sizeof key);
    return ok;
}

bool webhook_sign(const char *secret, const char *old_secret, const char *id, int64_t timestamp, const char *body,
                  size_t body_len, char *out, size_t out_size)
{
    char stamp[24];
    size_t used = 0;

    if (!out || out_size == 0 || !id || (!body && body_len > 0))
        return false;
    out[0] = '\0';
    snprintf(stamp, sizeof stamp, "%" PRId64, timestamp);
    if (!append_signature(secret, id, stamp, body, body_len, out, out_size, &used))
        goto fail;
    if (old_secret && !append_signature(old_secret, id, stamp, body, body_len, out, out_size, &used))
        goto fail;
    return true;
fail:
    out[0] = '\0';
    return false;
}
