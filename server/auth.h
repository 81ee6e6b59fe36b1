/* Bearer-token authorisation: three roles, tokens compared in constant time, never logged. */
#ifndef SURVEYD_AUTH_H
#define SURVEYD_AUTH_H

#include <stdbool.h>
#include <stddef.h>

enum auth_role {
    AUTH_ADMIN = 1 << 0,    /* everything */
    AUTH_READ = 1 << 1,     /* every GET */
    AUTH_INGEST = 1 << 2,   /* submit to any survey */
};

/* What a request's Authorization header proved. */
struct auth_result {
    bool presented;         /* a bearer token was sent */
    unsigned roles;         /* AUTH_* bits it carries; 0 for an unknown token */
};

struct auth;

/* Token sources for one role: a comma-separated list (environment) and/or a file (one token per
 * line or comma-separated; blank lines and lines starting with '#' ignored). */
struct auth_source {
    const char *list;
    const char *file;
};

/* Loads the three roles' tokens. When no admin token is configured, one is read from, or created
 * (mode 0600) at, <data_dir>/admin-token. Returns NULL with a message in err on failure. */
struct auth *auth_load(const struct auth_source *admin, const struct auth_source *read,
                       const struct auth_source *ingest, const char *data_dir, char *err, size_t err_size);

/* Wipes the tokens from memory and frees them. */
void auth_free(struct auth *auth);

/* authorization: the header's value, or NULL. */
struct auth_result auth_check(const struct auth *auth, const char *authorization);

/* Whether roles allow reading (admin implies read) or ingesting (admin implies ingest). */
/* Whether an Authorization header presents exactly `expected` as its bearer token, compared in
 * constant time (for single tokens outside the role lists, such as --metrics-token). */
bool auth_bearer_matches(const char *authorization, const char *expected);

bool auth_may_read(unsigned roles);
bool auth_may_ingest(unsigned roles);
bool auth_may_admin(unsigned roles);

#endif
