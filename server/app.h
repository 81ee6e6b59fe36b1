/* What main owns and every handler may use. Built once at start-up; never mutated afterwards. */
#ifndef SURVEYD_APP_H
#define SURVEYD_APP_H

#include "auth.h"
#include "store.h"
#include "writer.h"

struct app {
    struct store *store;
    struct writer *writer;
    struct auth *auth;
};

#endif
