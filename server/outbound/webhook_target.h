/* Whether a webhook URL may be posted to: the SSRF guard.
 *
 * Checked twice. When a subscription is saved, every address its host resolves to must be allowed
 * (net_address.h), so a mistake is refused at once with a clear error. And when a delivery
 * connects, the address libcurl is about to connect to is checked again (its open-socket
 * callback), so a name that resolved to a public address then and to 127.0.0.1 now (DNS
 * rebinding) still reaches nothing private: the check holds for the very address used. */
#ifndef SURVEYD_WEBHOOK_TARGET_H
#define SURVEYD_WEBHOOK_TARGET_H

#include <stdbool.h>
#include <stddef.h>

enum webhook_target_result {
    WEBHOOK_TARGET_OK,
    WEBHOOK_TARGET_UNRESOLVED,  /* the host does not resolve (now) */
    WEBHOOK_TARGET_FORBIDDEN,   /* it resolves to an address that is not allowed */
    WEBHOOK_TARGET_INVALID,     /* not an http(s) URL with a host */
};

/* Resolves url's host (blocking: call it from a request handler's thread, never the writer's) and
 * checks every address. On anything but OK, why holds a message for the client naming the
 * address class (never more of the network than the caller gave). */
enum webhook_target_result webhook_target_check(const char *url, bool allow_private, char *why, size_t why_size);

#endif
