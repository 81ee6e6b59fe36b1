/* Signing a delivery the Standard Webhooks way (https://www.standardwebhooks.com), with OpenSSL's
 * HMAC-SHA256: webhook-signature is "v1,<base64 of HMAC-SHA256(key, id "." timestamp "." body)>",
 * where key is the base64 text after "whsec_" in the secret, decoded. With two secrets (during a
 * rotation) the header carries both signatures separated by a space. */
#ifndef SURVEYD_WEBHOOK_SIGN_H
#define SURVEYD_WEBHOOK_SIGN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define WEBHOOK_SECRET_PREFIX "whsec_"
#define WEBHOOK_SECRET_MAX 128

/* A new secret: "whsec_" + base64 of 24 random bytes. */
bool webhook_sign_new_secret(char out[WEBHOOK_SECRET_MAX]);

/* The webhook-signature header value for id, timestamp (seconds) and body, signed with secret and,
 * when not NULL, old_secret too. False when a secret is malformed or out of space. */
bool webhook_sign(const char *secret, const char *old_secret, const char *id, int64_t timestamp, const char *body,
                  size_t body_len, char *out, size_t out_size);

#endif
