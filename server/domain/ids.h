/* Unguessable identifiers. */
#ifndef SURVEYD_IDS_H
#define SURVEYD_IDS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* 26 characters of base32 (a-z, 2-7): 48 bits of milliseconds then 82 bits from the kernel's CSPRNG,
 * so that ids sort by creation time (see ids.c). */
#define IDS_RESPONSE_LEN 26

bool ids_random_bytes(void *buf, size_t len);

/* The base32 alphabet of ids and tokens (a-z, 2-7). */
extern const char ids_base32_alphabet[];

/* chars (at most 102) random base32 characters, 5 bits each, into out (chars + 1 bytes). */
bool ids_random_base32(char *out, size_t chars);

/* A new response id for a response received at now_ms; out must hold IDS_RESPONSE_LEN + 1 bytes. */
bool ids_new_response_id(char *out, int64_t now_ms);

/* Lowercase hex of len random bytes into out (2 * len + 1 bytes). */
bool ids_random_hex(char *out, size_t len);

/* 1-64 characters of [a-z0-9_-], starting with a letter or digit: survey and question ids. */
bool ids_valid_slug(const char *id);

#endif
