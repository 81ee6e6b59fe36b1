/* Follow-up edit tokens: the capability a submitter holds to add answers to their own response
 * without an ingest token. A token is 160 random bits in base32; only its SHA-256 is stored, so
 * neither the database nor a backup of it grants a follow-up, and a response id grants nothing. */
#ifndef SURVEYD_EDIT_TOKEN_H
#define SURVEYD_EDIT_TOKEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define EDIT_TOKEN_LEN 32                               /* base32 characters (a-z, 2-7) */
#define EDIT_TOKEN_HASH_LEN 32                          /* SHA-256 */
#define EDIT_TOKEN_LIFETIME_MS (24 * 3600 * 1000LL)     /* from the response's creation */

/* Initialises libcrypto and fetches SHA-256 once; call at start-up, before any request. False when
 * libcrypto cannot start. edit_token_cleanup() releases what it fetched. */
bool edit_token_init(void);
void edit_token_cleanup(void);

/* A fresh token into token (EDIT_TOKEN_LEN + 1 bytes) and its hash. False when the kernel's
 * random source or libcrypto fails. */
bool edit_token_new(char *token, unsigned char hash[EDIT_TOKEN_HASH_LEN]);

/* SHA-256 of len bytes, with the digest fetched at start-up (for invitation sampling too). */
bool edit_token_sha256(const void *data, size_t len, unsigned char hash[EDIT_TOKEN_HASH_LEN]);

/* SHA-256 of the token's text. */
bool edit_token_hash(const char *token, unsigned char hash[EDIT_TOKEN_HASH_LEN]);

/* Whether presented hashes to stored; constant time in the hash (the presented text is hashed first,
 * so nothing about the stored hash leaks through timing). */
bool edit_token_matches(const char *presented, const unsigned char stored[EDIT_TOKEN_HASH_LEN]);

/* The token of an "Authorization: Bearer <token>" header value, copied into out (EDIT_TOKEN_LEN + 1
 * bytes); false when the header is absent or holds no token of the right shape. */
bool edit_token_from_authorization(const char *authorization, char *out);

#endif
