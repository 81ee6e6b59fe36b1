/* Per-survey data versions for ETags and the metrics cache.
 *
 * A survey's version is bumped twice around every write that may change what its metrics say: once
 * inside the transaction, before commit, and once after the commit. A reply computed while the write
 * was in flight is therefore labelled with a version that the second bump retires, so neither a
 * cached reply nor a client's If-None-Match can keep a pre-commit result alive. */
#ifndef SURVEYD_VERSIONS_H
#define SURVEYD_VERSIONS_H

#include <stdint.h>

struct versions;

struct versions *versions_new(void);
void versions_free(struct versions *versions);

void versions_bump(struct versions *versions, const char *survey);
/* An invitation of the survey was written: created (sent or suppressed), opened by a visit, or
 * answered through its page. The survey's metrics count its invitations (sent, opened, responded,
 * the response rate), so their cached replies and ETags must go, exactly as after a response:
 * call it inside the writer's transaction and again after the commit (see above). A job handed to
 * api_submit() with its survey set gets both calls already; this is for invitation writes made any
 * other way (a writer job of its own, a counter updated beside another write). On a shared store
 * (PostgreSQL) the store bumps data_versions itself, and this still retires this process's
 * cached copy at once. */
void versions_bump_invitation(struct versions *versions, const char *survey);

/* For writes that may touch any survey (erasing a customer, retention). */
void versions_bump_all(struct versions *versions);

uint64_t versions_get(struct versions *versions, const char *survey);

/* Responses ingested per survey since start, for /metrics. */
void versions_count_ingested(struct versions *versions, const char *survey);
void versions_each_ingested(struct versions *versions, void (*each)(const char *survey, uint64_t count, void *arg),
                            void *arg);

/* Bumped with every survey: for replies that span surveys. */
uint64_t versions_global(struct versions *versions);

/* Differs between runs, so ETags from before a restart never match. */
int64_t versions_epoch(const struct versions *versions);

#endif
