/* The API's routing table: every resource and method surveyd answers. */
#ifndef SURVEYD_ROUTES_H
#define SURVEYD_ROUTES_H

#include <stddef.h>

#include "http.h"

extern const struct http_route routes_table[];
extern const size_t routes_count;

#endif
