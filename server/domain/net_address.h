/* Which network addresses a webhook may be sent to. Pure: no I/O.
 *
 * Refused unless the operator allows private targets (--webhook-allow-private): loopback
 * (127/8, ::1), "this network" (0/8, ::), private (10/8, 172.16/12, 192.168/16, fc00::/7), shared
 * carrier-grade NAT (100.64/10), link-local (169.254/16 with the cloud metadata address
 * 169.254.169.254, fe80::/10), multicast, broadcast and reserved ranges, documentation and
 * benchmarking ranges, and IPv4 addresses written as IPv6 (::ffff:a.b.c.d, 64:ff9b::/96,
 * 2002::/16 6to4) of any of these. */
#ifndef SURVEYD_NET_ADDRESS_H
#define SURVEYD_NET_ADDRESS_H

#include <stdbool.h>
#include <sys/socket.h>

enum net_address_class {
    NET_ADDRESS_PUBLIC,
    NET_ADDRESS_LOOPBACK,
    NET_ADDRESS_PRIVATE,
    NET_ADDRESS_LINK_LOCAL,     /* the metadata address included */
    NET_ADDRESS_OTHER,          /* multicast, broadcast, unspecified, reserved, documentation */
};

/* The class of an AF_INET or AF_INET6 address (anything else is NET_ADDRESS_OTHER). */
enum net_address_class net_address_classify(const struct sockaddr *address);

/* Whether a webhook may connect there: public ones always, the others only when allow_private. */
bool net_address_allowed(const struct sockaddr *address, bool allow_private);

/* "loopback", "private", "link-local", "reserved": for error messages and logs. */
const char *net_address_class_name(enum net_address_class cls);

#endif
