#include "client.h"

#include <arpa/inet.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct ip {
    int family;
    unsigned char bytes[16];
};

struct proxies {
    struct ip *ips;
    int count;
};

static bool parse_ip(const char *text, struct ip *out)
{
    memset(out, 0, sizeof *out);
    if (inet_pton(AF_INET, text, out->bytes) == 1) {
        out->family = AF_INET;
        return true;
    }
    if (inet_pton(AF_INET6, text, out->bytes) == 1) {
        out->family = AF_INET6;
        return true;
    }
    return false;
}

struct proxies *client_proxies_new(const char *list, char *err, size_t err_size)
{
    struct proxies *proxies = calloc(1, sizeof *proxies);
    char entry[64];

    if (proxies == NULL)
        return NULL;
    for (const char *p = list ? list : ""; *p;) {
        size_t len = strcspn(p, ",");
        snprintf(entry, sizeof entry, "%.*s", (int)(len < sizeof entry - 1 ? len : sizeof entry - 1), p);
        char *start = entry + strspn(entry, " ");
        start[strcspn(start, " ")] = '\0';
        if (*start) {
            struct ip ip;
            struct ip *grown = realloc(proxies->ips, (size_t)(proxies->count + 1) * sizeof *grown);
            if (!parse_ip(start, &ip) || grown == NULL) {
                snprintf(err, err_size, "--trust-proxy: '%s' is not an IP address", start);
                free(grown ? grown : proxies->ips);
                free(proxies);
                return NULL;
            }
            proxies->ips = grown;
            proxies->ips[proxies->count++] = ip;
        }
        p += len;
        if (*p)
            p++;
    }
    return proxies;
}

void client_proxies_free(struct proxies *proxies)
{
    if (proxies == NULL)
        return;
    free(proxies->ips);
    free(proxies);
}

static bool trusted(const struct proxies *proxies, const char *address)
{
    struct ip ip;
    if (proxies == NULL || !parse_ip(address, &ip))
        return false;
    for (int i = 0; i < proxies->count; i++) {
        if (proxies->ips[i].family == ip.family && memcmp(proxies->ips[i].bytes, ip.bytes, 16) == 0)
            return true;
    }
    return false;
}

void client_address(struct http_request *req, const struct proxies *proxies, char *out, size_t size)
{
    char forwarded[64];
    struct ip ip;

    http_peer_address(req, out, size);
    if (!trusted(proxies, out))
        return;
    const char *header = http_header(req, "X-Forwarded-For");
    if (header == NULL)
        return;
    const char *last = strrchr(header, ',');
    last = last ? last + 1 : header;
    last += strspn(last, " \t");
    size_t len = strcspn(last, " \t");
    if (len == 0 || len >= sizeof forwarded)
        return;
    memcpy(forwarded, last, len);
    forwarded[len] = '\0';
    if (parse_ip(forwarded, &ip))
        snprintf(out, size, "%s", forwarded);
}
