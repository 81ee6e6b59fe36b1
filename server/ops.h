/* Operator subcommands that run without the server: verify, backup, healthcheck. */
#ifndef SURVEYD_OPS_H
#define SURVEYD_OPS_H

#include "config.h"

/* Each returns the process exit status. */
int ops_verify(const struct config *config);
int ops_backup(const struct config *config);
int ops_healthcheck(const struct config *config);

#endif
