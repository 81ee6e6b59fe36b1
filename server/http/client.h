/* Who is calling: the socket's address, or, behind a trusted reverse proxy, the address the proxy
 * saw (the right-most X-Forwarded-For entry: the one the proxy itself appended; anything left of it
 * came from the client and can be forged). */
#ifndef SURVEYD_CLIENT_H
#define SURVEYD_CLIENT_H

#include <stddef.h>

#include "http.h"

struct proxies;

/* list: comma-separated IPv4/IPv6 addresses of trusted proxies; NULL or "" for none. NULL with err
 * set when an entry is not an address. */
struct proxies *client_proxies_new(const char *list, char *err, size_t err_size);
void client_proxies_free(struct proxies *proxies);

/* The client's address as text into out (INET6_ADDRSTRLEN bytes are enough). */
void client_address(struct http_request *req, const struct proxies *proxies, char *out, size_t size);

#endif
