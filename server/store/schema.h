/* Numbered SQL migrations from schema/ (SQLite) and schema/postgres/, embedded at build time (schema/embed.py). */
#ifndef SURVEYD_SCHEMA_H
#define SURVEYD_SCHEMA_H

struct schema_migration {
    int version;        /* 1, 2, ...: becomes PRAGMA user_version (PostgreSQL: schema_version) once applied */
    const char *name;   /* file name, for messages */
    const char *sql;
};

extern const struct schema_migration schema_migrations[];
extern const int schema_migration_count;

/* The PostgreSQL backend's (schema/postgres/): version N is recorded in its schema_version table. */
extern const struct schema_migration schema_postgres_migrations[];
extern const int schema_postgres_migration_count;

#endif
