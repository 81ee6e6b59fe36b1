/* POST /v1/surveys/{survey}/invitations and GET /v1/invitations/{id}. */
#ifndef SURVEYD_INVITATIONS_H
#define SURVEYD_INVITATIONS_H

#include <stdatomic.h>

#include "http.h"

/* Since start, for /metrics: invitations by outcome, and their emails. Owned by main. */
struct invitation_stats {
    atomic_ullong sent, throttled, sampled_out;
    atomic_ullong emails_sent, emails_failed;
};

enum http_next invitations_post(struct http_request *req);
enum http_next invitations_get(struct http_request *req);

#endif
