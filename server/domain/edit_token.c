#include "edit_token.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <string.h>
#include <strings.h>

#include "ids.h"

/* Fetched once at start-up and read-only afterwards. libcrypto initialises itself lazily on first
 * use; an allocation failing inside that lazy start leaves it half-initialised (a NULL lock that a
 * later call dereferences), so start-up does it while memory is plentiful. */
static EVP_MD *sha256;

bool edit_token_init(void)
{
    if (sha256 == NULL && OPENSSL_init_crypto(0, NULL) == 1)
        sha256 = EVP_MD_fetch(NULL, "SHA2-256", NULL);
    return sha256 != NULL;
}

void edit_token_cleanup(void)
{
    EVP_MD_free(sha256);
    sha256 = NULL;
}

bool edit_token_new(char *token, unsigned char hash[EDIT_TOKEN_HASH_LEN])
{
    return ids_random_base32(token, EDIT_TOKEN_LEN) && edit_token_hash(token, hash); /* 160 bits */
}

bool edit_token_sha256(const void *data, size_t len, unsigned char hash[EDIT_TOKEN_HASH_LEN])
{
    unsigned int out_len = 0;
    const EVP_MD *md = sha256 ? sha256 : EVP_sha256();
    return EVP_Digest(data, len, hash, &out_len, md, NULL) == 1 && out_len == EDIT_TOKEN_HASH_LEN;
}

bool edit_token_hash(const char *token, unsigned char hash[EDIT_TOKEN_HASH_LEN])
{
    return edit_token_sha256(token, strlen(token), hash);
}

bool edit_token_matches(const char *presented, const unsigned char stored[EDIT_TOKEN_HASH_LEN])
{
    unsigned char hash[EDIT_TOKEN_HASH_LEN];
    return edit_token_hash(presented, hash) && CRYPTO_memcmp(hash, stored, EDIT_TOKEN_HASH_LEN) == 0;
}

bool edit_token_from_authorization(const char *authorization, char *out)
{
    if (authorization == NULL || strncasecmp(authorization, "Bearer ", 7) != 0)
        return false;
    const char *given = authorization + 7;
    while (*given == ' ')
        given++;
    size_t len = strspn(given, ids_base32_alphabet);
    /* Trailing spaces are tolerated, as auth.c does for role tokens; anything else is not a token. */
    if (len != EDIT_TOKEN_LEN || given[len + strspn(given + len, " ")] != '\0')
        return false;
    memcpy(out, given, EDIT_TOKEN_LEN);
    out[EDIT_TOKEN_LEN] = '\0';
    return true;
}
