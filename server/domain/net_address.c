#include "net_address.h"

#include <netinet/in.h>
#include <stdint.h>
#include <string.h>

/* An IPv4 range: the address's top `bits` bits equal those of `net`. */
struct v4_range {
    uint32_t net;
    int bits;
    enum net_address_class cls;
};

#define V4(a, b, c, d) (((uint32_t)(a) << 24) | ((uint32_t)(b) << 16) | ((uint32_t)(c) << 8) | (uint32_t)(d))

/* IANA's special-purpose registry, as far as a webhook is concerned. Anything not listed is public. */
static const struct v4_range v4_ranges[] = {
    {V4(0, 0, 0, 0), 8, NET_ADDRESS_OTHER},             /* "this network" (0.0.0.0 reaches the host) */
    {V4(10, 0, 0, 0), 8, NET_ADDRESS_PRIVATE},
    {V4(100, 64, 0, 0), 10, NET_ADDRESS_PRIVATE},       /* carrier-grade NAT, shared */
    {V4(127, 0, 0, 0), 8, NET_ADDRESS_LOOPBACK},
    {V4(169, 254, 0, 0), 16, NET_ADDRESS_LINK_LOCAL},   /* 169.254.169.254: cloud metadata */
    {V4(172, 16, 0, 0), 12, NET_ADDRESS_PRIVATE},
    {V4(192, 0, 0, 0), 24, NET_ADDRESS_OTHER},          /* IETF protocol assignments */
    {V4(192, 0, 2, 0), 24, NET_ADDRESS_OTHER},          /* TEST-NET-1 */
    {V4(192, 88, 99, 0), 24, NET_ADDRESS_OTHER},        /* 6to4 relay anycast (deprecated) */
    {V4(192, 168, 0, 0), 16, NET_ADDRESS_PRIVATE},
    {V4(198, 18, 0, 0), 15, NET_ADDRESS_OTHER},         /* benchmarking */
    {V4(198, 51, 100, 0), 24, NET_ADDRESS_OTHER},       /* TEST-NET-2 */
    {V4(203, 0, 113, 0), 24, NET_ADDRESS_OTHER},        /* TEST-NET-3 */
    {V4(224, 0, 0, 0), 4, NET_ADDRESS_OTHER},           /* multicast */
    {V4(240, 0, 0, 0), 4, NET_ADDRESS_OTHER},           /* reserved, and 255.255.255.255 broadcast */
};

static enum net_address_class classify_v4(uint32_t address)
{
    for (size_t i = 0; i < sizeof v4_ranges / sizeof v4_ranges[0]; i++) {
        uint32_t mask = 0xffffffffu << (32 - v4_ranges[i].bits);
        if ((address & mask) == v4_ranges[i].net)
            return v4_ranges[i].cls;
    }
    return NET_ADDRESS_PUBLIC;
}

static uint32_t v4_at(const uint8_t *bytes)
{
    return V4(bytes[0], bytes[1], bytes[2], bytes[3]);
}

static bool all_zero(const uint8_t *bytes, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        if (bytes[i] != 0)
            return false;
    }
    return true;
}

static bool prefix_is(const uint8_t *a, const uint8_t *prefix, int bits)
{
    int whole = bits / 8, rest = bits % 8;
    if (memcmp(a, prefix, (size_t)whole) != 0)
        return false;
    if (rest == 0)
        return true;
    uint8_t mask = (uint8_t)(0xff << (8 - rest));
    return (a[whole] & mask) == (prefix[whole] & mask);
}

/* An IPv6 address that carries an IPv4 one is judged by the IPv4 one: a connection to
 * ::ffff:127.0.0.1 reaches 127.0.0.1, and one to 64:ff9b::a9fe:a9fe may reach the metadata address
 * through a NAT64 gateway. Sets *v4 and returns true when a6 is such a form. */
static bool embedded_v4(const uint8_t *a6, uint32_t *v4)
{
    static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    static const uint8_t translated[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0, 0};
    static const uint8_t nat64[12] = {0, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0};
    static const uint8_t sixtofour[2] = {0x20, 0x02};

    if (memcmp(a6, mapped, 12) == 0 || memcmp(a6, translated, 12) == 0 || memcmp(a6, nat64, 12) == 0 ||
        (all_zero(a6, 12) && !all_zero(a6 + 12, 3))) {
        /* ::ffff:a.b.c.d, ::ffff:0:a.b.c.d, 64:ff9b::a.b.c.d, and the deprecated ::a.b.c.d (but not
         * :: and ::1, which are IPv6's own) */
        *v4 = v4_at(a6 + 12);
        return true;
    }
    if (memcmp(a6, sixtofour, 2) == 0) {
        *v4 = v4_at(a6 + 2);    /* 2002:AABB:CCDD::/48 */
        return true;
    }
    return false;
}

struct v6_range {
    uint8_t prefix[16];
    int bits;
    enum net_address_class cls;
};

static const struct v6_range v6_ranges[] = {
    {{0x00, 0x64, 0xff, 0x9b, 0x00, 0x01}, 48, NET_ADDRESS_PRIVATE},    /* local-use NAT64 */
    {{0xfc}, 7, NET_ADDRESS_PRIVATE},                                   /* unique local */
    {{0xfe, 0xc0}, 10, NET_ADDRESS_PRIVATE},                            /* site-local (deprecated) */
    {{0xfe, 0x80}, 10, NET_ADDRESS_LINK_LOCAL},
    {{0xff}, 8, NET_ADDRESS_OTHER},                                     /* multicast */
    {{0x01, 0x00, 0, 0, 0, 0, 0, 0}, 64, NET_ADDRESS_OTHER},            /* discard-only */
    {{0x20, 0x01, 0x00, 0x00}, 23, NET_ADDRESS_OTHER},                  /* IETF assignments, Teredo */
    {{0x20, 0x01, 0x0d, 0xb8}, 32, NET_ADDRESS_OTHER},                  /* documentation */
    {{0x3f, 0xff}, 20, NET_ADDRESS_OTHER},                              /* documentation */
    {{0x5f, 0x00}, 16, NET_ADDRESS_OTHER},                              /* segment routing SIDs */
};

static enum net_address_class classify_v6(const uint8_t *a6)
{
    static const uint8_t global[1] = {0x20};
    uint32_t v4;

    if (all_zero(a6, 16))
        return NET_ADDRESS_OTHER;
    if (all_zero(a6, 15) && a6[15] == 1)
        return NET_ADDRESS_LOOPBACK;
    if (embedded_v4(a6, &v4))
        return classify_v4(v4);
    for (size_t i = 0; i < sizeof v6_ranges / sizeof v6_ranges[0]; i++) {
        if (prefix_is(a6, v6_ranges[i].prefix, v6_ranges[i].bits))
            return v6_ranges[i].cls;
    }
    /* Only 2000::/3 is allocated for global unicast; the rest is reserved. */
    return prefix_is(a6, global, 3) ? NET_ADDRESS_PUBLIC : NET_ADDRESS_OTHER;
}

enum net_address_class net_address_classify(const struct sockaddr *address)
{
    if (address == NULL)
        return NET_ADDRESS_OTHER;
    if (address->sa_family == AF_INET) {
        struct sockaddr_in in;
        memcpy(&in, address, sizeof in);
        return classify_v4(ntohl(in.sin_addr.s_addr));
    }
    if (address->sa_family == AF_INET6) {
        struct sockaddr_in6 in6;
        memcpy(&in6, address, sizeof in6);
        return classify_v6(in6.sin6_addr.s6_addr);
    }
    return NET_ADDRESS_OTHER;
}

bool net_address_allowed(const struct sockaddr *address, bool allow_private)
{
    enum net_address_class cls = net_address_classify(address);
    if (cls == NET_ADDRESS_PUBLIC)
        return true;
    /* An address of another family is never one a webhook can be posted to. */
    bool inet = address != NULL && (address->sa_family == AF_INET || address->sa_family == AF_INET6);
    return allow_private && inet;
}

const char *net_address_class_name(enum net_address_class cls)
{
    switch (cls) {
    case NET_ADDRESS_PUBLIC:
        return "public";
    case NET_ADDRESS_LOOPBACK:
        return "loopback";
    case NET_ADDRESS_PRIVATE:
        return "private";
    case NET_ADDRESS_LINK_LOCAL:
        return "link-local";
    case NET_ADDRESS_OTHER:
        break;
    }
    return "reserved";
}
