/* TEMPORARY, until the store's invitation functions (h-inv-store: sqlite_invitations.c,
 * postgres_invitations.c and store.c's dispatch) are on main: weak stand-ins so that the daemon
 * links and every endpoint but the invitations' works. Each says the storage is unavailable (503).
 * The real, strong definitions replace these at link time; delete this file once they exist. */
#include <stdlib.h>

#include "store.h"

#define PENDING __attribute__((weak))

PENDING void store_invitation_row_free(struct store_invitation_row *row)
{
    if (row == NULL)
        return;
    free(row->customer);
    free(row->channel);
    free(row->agent);
    free(row->interaction);
    free(row->properties);
    free(row->last_visit_value);
    free(row->captured);
}

PENDING enum store_status store_insert_invitation(struct store_conn *conn, const struct store_invitation_row *row)
{
    return STORE_UNAVAILABLE;
}

PENDING enum store_status store_get_invitation(struct store_conn *conn, const char *id,
                                               struct store_invitation_row *out)
{
    return STORE_UNAVAILABLE;
}

PENDING enum store_status store_last_contact(struct store_conn *conn, const char *survey, const char *customer,
                                             int64_t *last_ms)
{
    return STORE_UNAVAILABLE;
}
