/* The PostgreSQL schema: applying schema/postgres/NNN_*.sql (embedded) and checking its version.
 *
 * Several instances may start at once on one database: each migration runs in a transaction of
 * its own that first takes a transaction-scoped advisory lock, then reads the version. The second
 * instance waits for the first one's commit and then finds nothing left to do. */
#include <stdio.h>
#include <stdlib.h>

#include "log.h"
#include "postgres_ops.h"
#include "schema.h"

/* Any constant shared by every surveyd: the bytes of "surveyd!" as a bigint. */
#define SCHEMA_LOCK "SELECT pg_advisory_xact_lock(8319681739471021089)"

static bool run(PGconn *db, const char *sql, const char *what, char *err, size_t err_size)
{
    PGresult *result = PQexec(db, sql);
    ExecStatusType rc = PQresultStatus(result);
    bool ok = rc == PGRES_COMMAND_OK || rc == PGRES_TUPLES_OK;
    if (!ok)
        snprintf(err, err_size, "%s: %s", what, result ? PQresultErrorMessage(result) : PQerrorMessage(db));
    PQclear(result);
    return ok;
}

/* The applied version: 0 when schema_version has no row yet, -1 on failure (err set). */
static int read_version(PGconn *db, char *err, size_t err_size)
{
    PGresult *result = PQexec(db, "SELECT version FROM schema_version");
    int version = -1;
    if (PQresultStatus(result) == PGRES_TUPLES_OK)
        version = PQntuples(result) == 0 ? 0 : atoi(PQgetvalue(result, 0, 0));
    else
        snprintf(err, err_size, "cannot read the schema version: %s",
                 result ? PQresultErrorMessage(result) : PQerrorMessage(db));
    PQclear(result);
    return version;
}

/* Whether the database has a schema_version table at all (an empty database has none). */
static int has_version_table(PGconn *db, char *err, size_t err_size)
{
    PGresult *result = PQexec(db, "SELECT to_regclass('schema_version') IS NOT NULL");
    int has = -1;
    if (PQresultStatus(result) == PGRES_TUPLES_OK && PQntuples(result) == 1)
        has = PQgetvalue(result, 0, 0)[0] == 't';
    else
        snprintf(err, err_size, "cannot read the schema version: %s",
                 result ? PQresultErrorMessage(result) : PQerrorMessage(db));
    PQclear(result);
    return has;
}

/* One step under the lock: applies the next migration, or finds none to apply (*done). */
static bool migrate_step(PGconn *db, bool *done, char *err, size_t err_size)
{
    char bump[128];
    int has, version;

    *done = false;
    if (!run(db, "BEGIN", "cannot migrate", err, err_size))
        return false;
    if (!run(db, SCHEMA_LOCK, "cannot take the migration lock", err, err_size) ||
        (has = has_version_table(db, err, err_size)) < 0)
        goto fail;
    if (!has && !run(db, "CREATE TABLE schema_version (id integer PRIMARY KEY CHECK (id = 1), version integer NOT NULL)",
                     "cannot create schema_version", err, err_size))
        goto fail;
    if ((version = read_version(db, err, err_size)) < 0)
        goto fail;
    if (version > schema_postgres_migration_count) {
        snprintf(err, err_size,
                 "the database has schema version %d, newer than this surveyd understands (%d): run a newer surveyd",
                 version, schema_postgres_migration_count);
        goto fail;
    }
    if (version == schema_postgres_migration_count) {
        *done = true;
        return run(db, "COMMIT", "cannot migrate", err, err_size);
    }
    const struct schema_migration *m = &schema_postgres_migrations[version];
    snprintf(bump, sizeof bump,
             "INSERT INTO schema_version (id, version) VALUES (1, %d)"
             " ON CONFLICT (id) DO UPDATE SET version = EXCLUDED.version", m->version);
    /* The migration and its version commit together, or neither does. */
    if (!run(db, m->sql, m->name, err, err_size) || !run(db, bump, m->name, err, err_size) ||
        !run(db, "COMMIT", m->name, err, err_size))
        goto fail;
    log_info("store: applied PostgreSQL migration %s", m->name);
    return true;
fail:
    PQclear(PQexec(db, "ROLLBACK"));
    return false;
}

bool pg_schema_migrate(PGconn *db, char *err, size_t err_size)
{
    bool done = false;
    while (!done) {
        if (!migrate_step(db, &done, err, err_size))
            return false;
    }
    return true;
}

bool pg_schema_check(PGconn *db, char *err, size_t err_size)
{
    int has = has_version_table(db, err, err_size), version;
    if (has < 0)
        return false;
    if (!has) {
        snprintf(err, err_size, "the database has no surveyd schema: start surveyd serve on it once to create it");
        return false;
    }
    if ((version = read_version(db, err, err_size)) < 0)
        return false;
    if (version != schema_postgres_migration_count) {
        snprintf(err, err_size, "the database has schema version %d, this surveyd expects %d: %s", version,
                 schema_postgres_migration_count,
                 version < schema_postgres_migration_count ? "start surveyd serve once to migrate it"
                                                           : "run a newer surveyd");
        return false;
    }
    return true;
}
