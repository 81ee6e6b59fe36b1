#include "webhook_target.h"

#include <netdb.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "net_address.h"

#define HOST_MAX 255

/* Copies url's host into host (an IPv6 literal without its brackets); false when url is not
 * http(s)://host... */
static bool url_host(const char *url, char *host, size_t size)
{
    const char *rest;
    if (strncmp(url, "https://", 8) == 0)
        rest = url + 8;
    else if (strncmp(url, "http://", 7) == 0)
        rest = url + 7;
    else
        return false;
    size_t authority = strcspn(rest, "/?#");
    if (memchr(rest, '@', authority) != NULL)
        return false;
    const char *start = rest, *end;
    if (*rest == '[') {
        start = rest + 1;
        end = memchr(start, ']', authority);
        if (end == NULL)
            return false;
    } else {
        end = start;
        while (end < rest + authority && *end != ':')
            end++;
    }
    size_t len = (size_t)(end - start);
    if (len == 0 || len >= size)
        return false;
    memcpy(host, start, len);
    host[len] = '\0';
    return true;
}

/* The first address that is not allowed, or NULL when every one is. */
static const struct addrinfo *first_forbidden(const struct addrinfo *list, bool allow_private)
{
    for (const struct addrinfo *ai = list; ai; ai = ai->ai_next) {
        if (!net_address_allowed(ai->ai_addr, allow_private))
            return ai;
    }
    return NULL;
}

enum webhook_target_result webhook_target_check(const char *url, bool allow_private, char *why, size_t why_size)
{
    char host[HOST_MAX + 1];
    if (why_size > 0)
        why[0] = '\0';
    if (url == NULL || !url_host(url, host, sizeof host)) {
        snprintf(why, why_size, "must be an http:// or https:// URL with a host");
        return WEBHOOK_TARGET_INVALID;
    }

    /* Every address counts, not just the first: libcurl may try any of them. Only stream sockets,
     * so that each address is listed once. */
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    struct addrinfo *list = NULL;
    int rc = getaddrinfo(host, NULL, &hints, &list);
    if (rc != 0 || list == NULL) {
        /* The message names the host the client gave, never the resolver's own details. */
        snprintf(why, why_size, "the host '%s' does not resolve", host);
        if (list)
            freeaddrinfo(list);
        return WEBHOOK_TARGET_UNRESOLVED;
    }
    const struct addrinfo *bad = first_forbidden(list, allow_private);
    if (bad != NULL) {
        const char *cls = net_address_class_name(net_address_classify(bad->ai_addr));
        snprintf(why, why_size,
                 "the host '%s' resolves to a %s address; webhooks are only sent to public addresses "
                 "unless the server runs with --webhook-allow-private", host, cls);
    }
    freeaddrinfo(list);
    return bad ? WEBHOOK_TARGET_FORBIDDEN : WEBHOOK_TARGET_OK;
}
