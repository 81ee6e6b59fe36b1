/* Token buckets per client address for unauthenticated submissions: a public survey's widget
 * endpoint must not let one address flood the database. */
#ifndef SURVEYD_RATELIMIT_H
#define SURVEYD_RATELIMIT_H

#include <stdbool.h>
#include <stdint.h>

struct ratelimit;

/* rate tokens a second, up to burst; rate 0 turns limiting off (NULL). */
struct ratelimit *ratelimit_new(double rate, double burst);
void ratelimit_free(struct ratelimit *limit);

/* Takes a token for address. False when none is left; *retry_after_s says when one will be. */
bool ratelimit_take(struct ratelimit *limit, const char *address, unsigned *retry_after_s);

/* Requests refused so far. */
uint64_t ratelimit_refused(struct ratelimit *limit);

#endif
