#include "auth.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ids.h"
#include "log.h"

#define TOKEN_MAX 512
#define ROLE_COUNT 3

struct token {
    char *value;
    size_t len;
    unsigned role;
};

struct auth {
    struct token *tokens;
    size_t count, cap;
};

static bool add_token(struct auth *auth, const char *start, size_t len, unsigned role)
{
    while (len > 0 && (*start == ' ' || *start == '\t'))
        start++, len--;
    while (len > 0 && (start[len - 1] == ' ' || start[len - 1] == '\t' || start[len - 1] == '\r'))
        len--;
    if (len == 0)
        return true;
    if (len > TOKEN_MAX)
        return false;
    if (auth->count == auth->cap) {
        size_t cap = auth->cap ? auth->cap * 2 : 8;
        struct token *grown = realloc(auth->tokens, cap * sizeof *grown);
        if (grown == NULL)
            return false;
        auth->tokens = grown;
        auth->cap = cap;
    }
    auth->tokens[auth->count++] = (struct token){strndup(start, len), len, role};
    return auth->tokens[auth->count - 1].value != NULL;
}

/* Splits on commas and newlines; '#' starts a comment line. */
static bool add_token_list(struct auth *auth, const char *list, unsigned role)
{
    const char *p = list;
    while (*p) {
        size_t len = strcspn(p, ",\n");
        const char *first = p;
        while (first < p + len && (*first == ' ' || *first == '\t'))
            first++;
        if (*first != '#' && !add_token(auth, p, len, role))
            return false;
        p += len;
        if (*p)
            p++;
    }
    return true;
}

static char *read_small_file(const char *path, char *err, size_t err_size)
{
    FILE *f = fopen(path, "re");
    char *buf = NULL;
    size_t len = 0;

    if (f == NULL) {
        snprintf(err, err_size, "cannot read %s: %s", path, strerror(errno));
        return NULL;
    }
    buf = calloc(1, 65537);
    if (buf)
        len = fread(buf, 1, 65536, f);
    if (buf && !feof(f)) {
        snprintf(err, err_size, "%s is larger than 64 KiB", path);
        free(buf);
        buf = NULL;
    }
    fclose(f);
    if (buf)
        buf[len] = '\0';
    return buf;
}

static bool load_source(struct auth *auth, const struct auth_source *source, unsigned role, char *err, size_t err_size)
{
    if (source->list && !add_token_list(auth, source->list, role)) {
        snprintf(err, err_size, "a token is longer than %d characters", TOKEN_MAX);
        return false;
    }
    if (source->file) {
        char *text = read_small_file(source->file, err, err_size);
        if (text == NULL)
            return false;
        bool ok = add_token_list(auth, text, role);
        explicit_bzero(text, strlen(text));
        free(text);
        if (!ok) {
            snprintf(err, err_size, "%s: a token is longer than %d characters", source->file, TOKEN_MAX);
            return false;
        }
    }
    return true;
}

/* With no admin token configured, the operator still needs one: make it once, keep it in the data
 * directory readable by the daemon's user alone, and say where it is (never what it is). */
static bool ensure_admin_token(struct auth *auth, const char *data_dir, char *err, size_t err_size)
{
    char path[4096];
    char token[65];

    snprintf(path, sizeof path, "%s/admin-token", data_dir);
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd >= 0) {
        if (!ids_random_hex(token, 32)) {
            snprintf(err, err_size, "cannot generate a random admin token");
            close(fd);
            unlink(path);
            return false;
        }
        token[64] = '\n';
        bool written = write(fd, token, 65) == 65 && fsync(fd) == 0;
        close(fd);
        explicit_bzero(token, sizeof token);
        if (!written) {
            snprintf(err, err_size, "cannot write %s: %s", path, strerror(errno));
            unlink(path);
            return false;
        }
        log_info("auth: no admin token configured; generated one in %s", path);
    } else if (errno != EEXIST) {
        snprintf(err, err_size, "cannot create %s: %s", path, strerror(errno));
        return false;
    } else {
        log_info("auth: no admin token configured; using the one in %s", path);
    }
    struct auth_source generated = {NULL, path};
    return load_source(auth, &generated, AUTH_ADMIN, err, err_size);
}

struct auth *auth_load(const struct auth_source *admin, const struct auth_source *read,
                       const struct auth_source *ingest, const char *data_dir, char *err, size_t err_size)
{
    struct auth *auth = calloc(1, sizeof *auth);

    if (auth == NULL) {
        snprintf(err, err_size, "out of memory");
        return NULL;
    }
    if (!load_source(auth, admin, AUTH_ADMIN, err, err_size) || !load_source(auth, read, AUTH_READ, err, err_size) ||
        !load_source(auth, ingest, AUTH_INGEST, err, err_size))
        goto fail;
    bool have_admin = false;
    for (size_t i = 0; i < auth->count; i++)
        have_admin |= auth->tokens[i].role == AUTH_ADMIN;
    if (!have_admin && !ensure_admin_token(auth, data_dir, err, err_size))
        goto fail;
    return auth;
fail:
    auth_free(auth);
    return NULL;
}

void auth_free(struct auth *auth)
{
    if (auth == NULL)
        return;
    for (size_t i = 0; i < auth->count; i++) {
        explicit_bzero(auth->tokens[i].value, auth->tokens[i].len);
        free(auth->tokens[i].value);
    }
    free(auth->tokens);
    free(auth);
}

/* Compares without an early exit, so the time taken says nothing about how much of a guess was
 * right. Only the stored token's length shows in the timing. */
static bool equal_constant_time(const char *given, size_t given_len, const struct token *token)
{
    unsigned char diff = given_len != token->len;
    for (size_t i = 0; i < token->len; i++)
        diff |= (unsigned char)(token->value[i] ^ (i < given_len ? given[i] : 0));
    return diff == 0;
}

/* The token of "Bearer <token>" (scheme case-insensitive, spaces around the token ignored), or NULL. */
static const char *bearer_token(const char *authorization, size_t *len)
{
    if (authorization == NULL || strncasecmp(authorization, "Bearer ", 7) != 0)
        return NULL;
    const char *given = authorization + 7;
    while (*given == ' ')
        given++;
    size_t given_len = strnlen(given, TOKEN_MAX + 1);
    while (given_len > 0 && given[given_len - 1] == ' ')
        given_len--;
    *len = given_len;
    return given;
}

bool auth_bearer_matches(const char *authorization, const char *expected)
{
    size_t given_len = 0;
    const char *given = bearer_token(authorization, &given_len);
    if (given == NULL || given_len == 0 || given_len > TOKEN_MAX || expected == NULL)
        return false;
    /* Same comparison as the role tokens: no early exit, so the time says nothing of a guess. */
    struct token token = {(char *)expected, strlen(expected), 0};
    return equal_constant_time(given, given_len, &token);
}

struct auth_result auth_check(const struct auth *auth, const char *authorization)
{
    struct auth_result result = {false, 0};
    size_t given_len = 0;
    const char *given = bearer_token(authorization, &given_len);

    if (given == NULL)
        return result;
    result.presented = given_len > 0;
    if (given_len > TOKEN_MAX)
        return result;
    /* Every token is compared, matched or not, for the same reason. */
    for (size_t i = 0; i < auth->count; i++) {
        if (equal_constant_time(given, given_len, &auth->tokens[i]))
            result.roles |= auth->tokens[i].role;
    }
    return result;
}

bool auth_may_read(unsigned roles)
{
    return roles & (AUTH_ADMIN | AUTH_READ);
}

bool auth_may_ingest(unsigned roles)
{
    return roles & (AUTH_ADMIN | AUTH_INGEST);
}

bool auth_may_admin(unsigned roles)
{
    return roles & AUTH_ADMIN;
}
