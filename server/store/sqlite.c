/* The SQLite backend (backend.h): the embedded default, one file in the data folder.
 *
 * One write connection (the writer thread's) and one read connection per reading thread, found
 * through a pthread key. WAL mode lets readers run while the writer commits. Statements are prepared
 * once per connection and reset after each use. */
#include "backend.h"

#include <errno.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "oom.h"
#include "rollup_deltas.h"
#include "schema.h"
#include "sqlite_migrate.h"
#include "sqlite_verify.h"
#include "timefmt.h"
#include "sqlite_checkpointer.h"


enum stmt_id {
    STMT_BEGIN,
    STMT_COMMIT,
    STMT_ROLLBACK,
    STMT_SAVEPOINT,
    STMT_RELEASE,
    STMT_ROLLBACK_TO,
    STMT_GET_SURVEY,
    STMT_SURVEY_IS,
    STMT_LIST_SURVEYS,
    STMT_INSERT_SURVEY,
    STMT_UPDATE_SURVEY,
    STMT_DELETE_SURVEY,
    STMT_DELETE_SURVEY_IDEMPOTENCY,
    STMT_ANSWER_COUNT,
    STMT_GET_RESPONSE,
    STMT_INSERT_RESPONSE,
    STMT_FIND_INTERACTION,
    STMT_FACTS_OF,
    STMT_RESPONSE_CELL_OF,
    STMT_UPSERT_ANSWERS,
    STMT_UPSERT_ANSWERS_AGENT,
    STMT_UPSERT_RESPONSES,
    STMT_UPSERT_RESPONSES_AGENT,
    STMT_UPSERT_ANSWERED,
    STMT_UPSERT_ANSWERS_MONTH,
    STMT_UPSERT_RESPONSES_MONTH,
    STMT_UPSERT_ANSWERS_HOUR,
    STMT_UPSERT_RESPONSES_HOUR,
    STMT_CLEAR_QUESTIONS,
    STMT_SET_QUESTIONS,
    STMT_SCAN_ANSWERS,
    STMT_SCAN_ANSWERS_AGENT,
    STMT_SCAN_ANSWERS_ALL_AGENTS,
    STMT_SCAN_RESPONSES,
    STMT_SCAN_RESPONSES_AGENT,
    STMT_SCAN_RESPONSES_ALL_AGENTS,
    STMT_SCAN_ANSWERS_MONTH,
    STMT_SCAN_RESPONSES_MONTH,
    STMT_SCAN_ANSWERS_HOUR,
    STMT_SCAN_RESPONSES_HOUR,
    STMT_SCAN_RAW_ANSWERS,
    STMT_SCAN_RAW_RESPONSES,
    STMT_DAY_SPAN,
    STMT_FIND_IDEMPOTENCY,
    STMT_SAVE_IDEMPOTENCY,
    STMT_GET_EDIT_TOKEN,
    STMT_LIST,
    STMT_LIST_CUSTOMER,
    STMT_SEQ_OF,
    STMT_UPDATE_ANSWERS,
    STMT_DELETE_RESPONSE,
    STMT_DELETE_RESPONSE_IDEMPOTENCY,
    STMT_CUSTOMER_SEQS,
    STMT_DELETE_CUSTOMER_IDEMPOTENCY,
    STMT_OLD_SEQS,
    STMT_PROBE_WRITE,
    STMT_PING,
    STMT_COUNT
};

/* group_by=agent: every agent's own range of an agent-first table, one index seek each, instead of
 * the whole survey's cells with the time filter applied to each: the survey's agents listed one
 * seek at a time (a skip-scan) from the smallest agent-keyed table. */
#define EACH_AGENT "WITH RECURSIVE agents (agent) AS (SELECT min(agent) FROM rollup_responses_agent WHERE survey = ?1" \
    " UNION ALL SELECT (SELECT min(agent) FROM rollup_responses_agent WHERE survey = ?1 AND agent > agents.agent)" \
    " FROM agents WHERE agents.agent IS NOT NULL) "

static const char *const stmt_sql[STMT_COUNT] = {
    [STMT_BEGIN] = "BEGIN IMMEDIATE",
    [STMT_COMMIT] = "COMMIT",
    [STMT_ROLLBACK] = "ROLLBACK",
    [STMT_SAVEPOINT] = "SAVEPOINT job",
    [STMT_RELEASE] = "RELEASE job",
    [STMT_ROLLBACK_TO] = "ROLLBACK TO job",
    [STMT_GET_SURVEY] = "SELECT id, definition, created_at, updated_at FROM surveys WHERE id = ?1",
    [STMT_SURVEY_IS] = "SELECT definition = ?2 FROM surveys WHERE id = ?1",
    [STMT_LIST_SURVEYS] = "SELECT id, definition, created_at, updated_at FROM surveys ORDER BY id",
    [STMT_INSERT_SURVEY] = "INSERT INTO surveys (id, definition, created_at, updated_at) VALUES (?1, ?2, ?3, ?3)"
                           " ON CONFLICT (id) DO NOTHING",
    [STMT_UPDATE_SURVEY] = "UPDATE surveys SET definition = ?2, updated_at = ?3 WHERE id = ?1",
    [STMT_DELETE_SURVEY] = "DELETE FROM surveys WHERE id = ?1",
    [STMT_DELETE_SURVEY_IDEMPOTENCY] = "DELETE FROM idempotency WHERE survey = ?1",
    [STMT_ANSWER_COUNT] = "SELECT answers FROM answered_questions WHERE survey = ?1 AND question = ?2",
    [STMT_GET_RESPONSE] = "SELECT id, survey, submitted_at, received_at, channel, customer, agent, interaction,"
                          " answers, properties FROM responses WHERE id = ?1",
    /* The edit token goes in with the row: a separate UPDATE grew the row right after its insert,
     * one more statement and B-tree search per response, and moved the row's cell within its page. */
    [STMT_INSERT_RESPONSE] = "INSERT INTO responses (id, survey, submitted_at, received_at, channel, customer,"
                             " agent, interaction, answers, properties, edit_token_hash, edit_token_expires_at)"
                             " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
    [STMT_FIND_INTERACTION] = "SELECT id FROM responses WHERE survey = ?1 AND interaction = ?2",
    /* A response's rollup cells, through the answer_facts view: the one definition of which bucket
     * an answer counts in. */
    [STMT_FACTS_OF] = "SELECT survey, submitted_at, channel, agent, question, value FROM answer_facts WHERE seq = ?1",
    [STMT_RESPONSE_CELL_OF] = "SELECT survey, submitted_at, coalesce(channel, ''), coalesce(agent, '')"
                              " FROM responses WHERE seq = ?1",
    /* A batch's accumulated changes, one cell each (see rollup_deltas.h): ?1 survey, ?2 day,
     * ?3 channel, ?4 question, ?5 value, ?6 delta, ?7 agent. */
    [STMT_UPSERT_ANSWERS] = "INSERT INTO rollup_answers (survey, day, channel, question, value, count)"
                            " VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT DO UPDATE SET count = count + excluded.count",
    [STMT_UPSERT_ANSWERS_AGENT] = "INSERT INTO rollup_answers_agent (survey, agent, day, channel, question, value, count)"
                                  " VALUES (?1, ?7, ?2, ?3, ?4, ?5, ?6)"
                                  " ON CONFLICT DO UPDATE SET count = count + excluded.count",
    [STMT_UPSERT_RESPONSES] = "INSERT INTO rollup_responses (survey, day, channel, count) VALUES (?1, ?2, ?3, ?6)"
                              " ON CONFLICT DO UPDATE SET count = count + excluded.count",
    [STMT_UPSERT_RESPONSES_AGENT] = "INSERT INTO rollup_responses_agent (survey, agent, day, channel, count)"
                                    " VALUES (?1, ?7, ?2, ?3, ?6) ON CONFLICT DO UPDATE SET count = count + excluded.count",
    [STMT_UPSERT_ANSWERED] = "INSERT INTO answered_questions (survey, question, answers) VALUES (?1, ?4, ?6)"
                             " ON CONFLICT DO UPDATE SET answers = answers + excluded.answers",
    [STMT_UPSERT_ANSWERS_MONTH] = "INSERT INTO rollup_answers_month (survey, month, channel, question, value, count)"
                                  " VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT DO UPDATE SET count = count + excluded.count",
    [STMT_UPSERT_RESPONSES_MONTH] = "INSERT INTO rollup_responses_month (survey, month, channel, count)"
                                    " VALUES (?1, ?2, ?3, ?6) ON CONFLICT DO UPDATE SET count = count + excluded.count",
    [STMT_UPSERT_ANSWERS_HOUR] = "INSERT INTO rollup_answers_hour (survey, hour, channel, question, value, count)"
                                 " VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT DO UPDATE SET count = count + excluded.count",
    [STMT_UPSERT_RESPONSES_HOUR] = "INSERT INTO rollup_responses_hour (survey, hour, channel, count)"
                                   " VALUES (?1, ?2, ?3, ?6) ON CONFLICT DO UPDATE SET count = count + excluded.count",
    [STMT_CLEAR_QUESTIONS] = "DELETE FROM survey_questions WHERE survey = ?1",
    [STMT_SET_QUESTIONS] = "INSERT INTO survey_questions (survey, question, type)"
                           " SELECT ?1, json_extract(value, '$.id'), json_extract(value, '$.type')"
                           " FROM json_each(?2, '$.questions')",
    /* Metrics: whole days [?2, ?3) from rollups; ?4 channel and ?5 agent filter when not NULL. */
    [STMT_SCAN_ANSWERS] = "SELECT day, channel, '', question, value, count FROM rollup_answers"
                          " WHERE survey = ?1 AND day >= ?2 AND day < ?3 AND (?4 IS NULL OR channel = ?4)",
    [STMT_SCAN_ANSWERS_AGENT] = "SELECT day, channel, agent, question, value, count FROM rollup_answers_agent"
                                " WHERE survey = ?1 AND agent = ?5 AND day >= ?2 AND day < ?3"
                                " AND (?4 IS NULL OR channel = ?4)",
    [STMT_SCAN_ANSWERS_ALL_AGENTS] = EACH_AGENT "SELECT r.day, r.channel, r.agent, r.question, r.value, r.count"
                                     " FROM agents CROSS JOIN rollup_answers_agent AS r"
                                     " WHERE r.survey = ?1 AND r.agent = agents.agent AND r.day >= ?2 AND r.day < ?3"
                                     " AND (?4 IS NULL OR r.channel = ?4) AND ?5 IS NULL",
    [STMT_SCAN_RESPONSES] = "SELECT day, channel, '', NULL, NULL, count FROM rollup_responses"
                            " WHERE survey = ?1 AND day >= ?2 AND day < ?3 AND (?4 IS NULL OR channel = ?4)",
    [STMT_SCAN_RESPONSES_AGENT] = "SELECT day, channel, agent, NULL, NULL, count FROM rollup_responses_agent"
                                  " WHERE survey = ?1 AND agent = ?5 AND day >= ?2 AND day < ?3"
                                  " AND (?4 IS NULL OR channel = ?4)",
    [STMT_SCAN_RESPONSES_ALL_AGENTS] = EACH_AGENT "SELECT r.day, r.channel, r.agent, NULL, NULL, r.count"
                                       " FROM agents CROSS JOIN rollup_responses_agent AS r"
                                       " WHERE r.survey = ?1 AND r.agent = agents.agent AND r.day >= ?2 AND r.day < ?3"
                                       " AND (?4 IS NULL OR r.channel = ?4) AND ?5 IS NULL",
    /* The same from the month tables: months (their first days) [?2, ?3). */
    [STMT_SCAN_ANSWERS_MONTH] = "SELECT month, channel, '', question, value, count FROM rollup_answers_month"
                                " WHERE survey = ?1 AND month >= ?2 AND month < ?3 AND (?4 IS NULL OR channel = ?4)",
    [STMT_SCAN_RESPONSES_MONTH] = "SELECT month, channel, '', NULL, NULL, count FROM rollup_responses_month"
                                  " WHERE survey = ?1 AND month >= ?2 AND month < ?3 AND (?4 IS NULL OR channel = ?4)",
    /* Whole hours [?2, ?3) of a window's partial edge days (no agent filter or grouping). */
    [STMT_SCAN_ANSWERS_HOUR] = "SELECT hour / 24, channel, '', question, value, count FROM rollup_answers_hour"
                               " WHERE survey = ?1 AND hour >= ?2 AND hour < ?3 AND (?4 IS NULL OR channel = ?4)"
                               " AND ?5 IS NULL",
    [STMT_SCAN_RESPONSES_HOUR] = "SELECT hour / 24, channel, '', NULL, NULL, count FROM rollup_responses_hour"
                                 " WHERE survey = ?1 AND hour >= ?2 AND hour < ?3 AND (?4 IS NULL OR channel = ?4)"
                                 " AND ?5 IS NULL",
    /* Partial days at a window's edges, from the raw rows: times [?2, ?3) in milliseconds. */
    [STMT_SCAN_RAW_ANSWERS] = "SELECT day, channel, agent, question, value, count(*) FROM answer_facts"
                              " WHERE survey = ?1 AND submitted_at >= ?2 AND submitted_at < ?3"
                              " AND (?4 IS NULL OR channel = ?4) AND (?5 IS NULL OR agent = ?5)"
                              " GROUP BY 1, 2, 3, 4, 5",
    [STMT_SCAN_RAW_RESPONSES] = "SELECT submitted_at / 86400000, coalesce(channel, ''), coalesce(agent, ''), NULL,"
                                " NULL, count(*) FROM responses"
                                " WHERE survey = ?1 AND submitted_at >= ?2 AND submitted_at < ?3"
                                " AND (?4 IS NULL OR channel = ?4) AND (?5 IS NULL OR agent = ?5)"
                                " GROUP BY 1, 2, 3",
    [STMT_DAY_SPAN] = "SELECT min(day), max(day) FROM rollup_responses WHERE survey = ?1 AND count > 0",
    [STMT_FIND_IDEMPOTENCY] = "SELECT body, status, reply, response_id FROM idempotency WHERE scope = ?1 AND key = ?2",
    [STMT_SAVE_IDEMPOTENCY] = "INSERT INTO idempotency (scope, key, body, status, reply, response_id, customer,"
                              " created_at, survey) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    [STMT_GET_EDIT_TOKEN] = "SELECT edit_token_hash, edit_token_expires_at FROM responses"
                            " WHERE id = ?1 AND edit_token_hash IS NOT NULL",
    /* Keyset pagination, newest first: rows strictly before (?2 ms, ?3 id), at or after ?4 ms. The
     * bound is a row value so the index range starts right at the cursor, whatever the page. */
    [STMT_LIST] = "SELECT id, survey, submitted_at, received_at, channel, customer, agent, interaction, answers, properties FROM responses"
                  " WHERE survey = ?1 AND (submitted_at, id) < (?2, ?3) AND submitted_at >= ?4"
                  " AND (?5 IS NULL OR channel = ?5) AND (?6 IS NULL OR agent = ?6)"
                  " AND (?7 IS NULL OR customer = ?7) AND (?8 IS NULL OR interaction = ?8)"
                  " ORDER BY submitted_at DESC, id DESC LIMIT ?9",
    [STMT_LIST_CUSTOMER] = "SELECT id, survey, submitted_at, received_at, channel, customer, agent, interaction, answers, properties FROM responses"
                           " WHERE customer = ?7 AND (submitted_at, id) < (?2, ?3) AND submitted_at >= ?4"
                           " AND (?1 IS NULL OR survey = ?1) AND (?5 IS NULL OR channel = ?5)"
                           " AND (?6 IS NULL OR agent = ?6) AND (?8 IS NULL OR interaction = ?8)"
                           " ORDER BY submitted_at DESC, id DESC LIMIT ?9",
    [STMT_SEQ_OF] = "SELECT seq FROM responses WHERE id = ?1",
    [STMT_UPDATE_ANSWERS] = "UPDATE responses SET answers = ?2 WHERE seq = ?1",
    [STMT_DELETE_RESPONSE] = "DELETE FROM responses WHERE seq = ?1",
    [STMT_DELETE_RESPONSE_IDEMPOTENCY] = "DELETE FROM idempotency WHERE response_id ="
                                         " (SELECT id FROM responses WHERE seq = ?1)",
    [STMT_CUSTOMER_SEQS] = "SELECT seq FROM responses WHERE customer = ?1",
    [STMT_DELETE_CUSTOMER_IDEMPOTENCY] = "DELETE FROM idempotency WHERE customer = ?1",
    /* Insertion order is roughly time order, so old rows are found first. */
    [STMT_OLD_SEQS] = "SELECT seq FROM responses WHERE submitted_at < ?1 LIMIT ?2",
    [STMT_PROBE_WRITE] = "INSERT INTO health (id, checked_at) VALUES (1, ?1)"
                         " ON CONFLICT (id) DO UPDATE SET checked_at = excluded.checked_at",
    [STMT_PING] = "SELECT count(*) FROM sqlite_schema",
};

struct sqlite_conn {
    struct store_conn base;         /* the writer's rollup changes live there (backend.h) */
    sqlite3 *db;
    sqlite3_stmt *stmts[STMT_COUNT];
    struct sqlite_conn *next;       /* in store.readers, so sqlite_close can find them all */
    struct wal_checkpointer *checkpointer; /* the writer's: serialises its own checkpoints with it */
};

sqlite3 *sqlite_conn_db(struct store_conn *conn)
{
    return ((struct sqlite_conn *)conn)->db;
}

struct sqlite_store {
    struct store base;
    char *path;
    enum store_durability durability;
    bool read_only;
    struct sqlite_conn *writer;
    pthread_key_t reader_key;
    pthread_mutex_t readers_lock;
    struct sqlite_conn *readers;
    struct wal_checkpointer *checkpointer; /* NULL when read-only */
};

/* ---- connections ---- */

static void conn_close(struct sqlite_conn *conn)
{
    store_backend_conn_free_deltas(&conn->base);
    for (int i = 0; i < STMT_COUNT; i++)
        sqlite3_finalize(conn->stmts[i]);
    sqlite3_close_v2(conn->db);
    free(conn);
}

static bool conn_exec(sqlite3 *db, const char *sql, char *err, size_t err_size)
{
    char *message = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &message) == SQLITE_OK)
        return true;
    snprintf(err, err_size, "%s", message ? message : sqlite3_errmsg(db));
    sqlite3_free(message);
    return false;
}

/* For connections of a process that is not the database's owner (verify, backup): when SQLite closes
 * what it takes for the last connection to a WAL database, it checkpoints and deletes -wal and -shm.
 * Its "last" is judged by POSIX locks, which a serving surveyd holds; this makes sure such a tool
 * never deletes them even so: no checkpoint on close, and the WAL persists. */
static void leave_wal_alone(sqlite3 *db)
{
    int persist = 1;
    sqlite3_db_config(db, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, NULL);
    sqlite3_file_control(db, "main", SQLITE_FCNTL_PERSIST_WAL, &persist);
}

static struct sqlite_conn *conn_open(const struct sqlite_store *store, bool writer, char *err, size_t err_size)
{
    struct sqlite_conn *conn = calloc(1, sizeof *conn);
    char pragmas[256];
    int flags = (store->read_only ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE) | SQLITE_OPEN_NOMUTEX |
                (writer && !store->read_only ? SQLITE_OPEN_CREATE : 0);

    if (conn == NULL) {
        snprintf(err, err_size, "out of memory");
        return NULL;
    }
    conn->base.backend = &store_backend_sqlite;
    if (sqlite3_open_v2(store->path, &conn->db, flags, NULL) != SQLITE_OK) {
        snprintf(err, err_size, "cannot open %s: %s", store->path, conn->db ? sqlite3_errmsg(conn->db) : "out of memory");
        goto fail;
    }
    sqlite3_extended_result_codes(conn->db, 1);
    if (store->read_only)
        leave_wal_alone(conn->db);
    /* Readers wait for a checkpoint or recovery briefly; the writer must not wait long, since every
     * queued response waits behind it. */
    sqlite3_busy_timeout(conn->db, writer ? 1000 : 5000);
    snprintf(pragmas, sizeof pragmas,
             "PRAGMA foreign_keys = ON; PRAGMA synchronous = %s; PRAGMA temp_store = MEMORY;"
             " PRAGMA secure_delete = ON;",
             store->durability == STORE_DURABILITY_FULL ? "FULL" : "NORMAL");
    if (!conn_exec(conn->db, pragmas, err, err_size))
        goto fail;
    /* The writer's page cache holds the pages every batch touches again: the right edges of the
     * time-ordered indexes, the interior pages of the random-keyed ones (customer, interaction,
     * idempotency) and the rollup tables. SQLite's default of 2 MiB let them fall out between
     * batches once the database passed a few hundred MB, and each one then came back with a
     * pread (6.0 read syscalls per POST at 1 M stored; 2.9 with 8 MiB, and no fewer with 16 MiB,
     * which cost 9.5 MB more RSS). Readers keep the default: there is one per request thread. */
    if (writer && !store->read_only && !conn_exec(conn->db, "PRAGMA cache_size = -8192", err, err_size))
        goto fail;
    if (writer && !store_backend_conn_init_writer(&conn->base, &store_backend_sqlite)) {
        snprintf(err, err_size, "out of memory");
        goto fail;
    }
    return conn;
fail:
    conn_close(conn);
    return NULL;
}

static sqlite3_stmt *stmt(struct sqlite_conn *conn, enum stmt_id id)
{
    if (conn->stmts[id] == NULL &&
        sqlite3_prepare_v3(conn->db, stmt_sql[id], -1, SQLITE_PREPARE_PERSISTENT, &conn->stmts[id], NULL) != SQLITE_OK) {
        log_error("store: cannot prepare statement %d: %s", (int)id, sqlite3_errmsg(conn->db));
        return NULL;
    }
    return conn->stmts[id];
}

static void reader_release(void *arg)
{
    (void)arg; /* readers are closed by store_close; a thread's exit only forgets its pointer */
}

static struct store_conn *sqlite_reader(struct store *base_store)
{
    struct sqlite_store *store = (struct sqlite_store *)base_store;
    struct sqlite_conn *conn = pthread_getspecific(store->reader_key);
    char err[256];

    if (conn != NULL)
        return &conn->base;
    conn = conn_open(store, false, err, sizeof err);
    if (conn == NULL) {
        log_error("store: cannot open a read connection: %s", err);
        return NULL;
    }
    pthread_mutex_lock(&store->readers_lock);
    conn->next = store->readers;
    store->readers = conn;
    pthread_mutex_unlock(&store->readers_lock);
    pthread_setspecific(store->reader_key, conn);
    return &conn->base;
}

static struct store_conn *sqlite_writer(struct store *base_store)
{
    struct sqlite_store *store = (struct sqlite_store *)base_store;
    return &store->writer->base;
}

static const char *sqlite_last_error(struct store_conn *base_conn)
{
    struct sqlite_conn *conn = (struct sqlite_conn *)base_conn;
    return sqlite3_errmsg(conn->db);
}

/* ---- schema ---- */

static bool read_user_version(sqlite3 *db, int *version)
{
    sqlite3_stmt *s = NULL;
    bool ok = sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &s, NULL) == SQLITE_OK && sqlite3_step(s) == SQLITE_ROW;
    if (ok)
        *version = sqlite3_column_int(s, 0);
    sqlite3_finalize(s);
    return ok;
}

static bool migrate(sqlite3 *db, char *err, size_t err_size)
{
    int version;
    char sql[64];

    if (!read_user_version(db, &version)) {
        snprintf(err, err_size, "cannot read the schema version: %s", sqlite3_errmsg(db));
        return false;
    }
    if (version > schema_migration_count) {
        snprintf(err, err_size,
                 "the database has schema version %d, newer than this surveyd understands (%d): "
                 "run a newer surveyd or restore a backup",
                 version, schema_migration_count);
        return false;
    }
    for (int i = version; i < schema_migration_count; i++) {
        const struct schema_migration *m = &schema_migrations[i];
        snprintf(sql, sizeof sql, "PRAGMA user_version = %d", m->version);
        /* Each migration and its version bump commit together, or not at all. */
        if (!conn_exec(db, "BEGIN IMMEDIATE", err, err_size))
            return false;
        if (!conn_exec(db, m->sql, err, err_size) || !conn_exec(db, sql, err, err_size)) {
            char detail[256];
            snprintf(detail, sizeof detail, "%s", err);
            snprintf(err, err_size, "migration %s failed: %s", m->name, detail);
            sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
            return false;
        }
        if (!conn_exec(db, "COMMIT", err, err_size))
            return false;
        log_info("store: applied migration %s", m->name);
    }
    return true;
}

/* The database holds customers' answers: owner-only, whatever the umask. chmod by path, never
 * through a descriptor of our own (see file_contains). A file SQLite just created is still empty
 * here; -wal and -shm are created later by SQLite with the database file's mode. Existing files
 * readable by others (from an older surveyd, or a copy) are tightened, and the operator told. */
static void make_private(const char *path, bool existed)
{
    struct stat st;
    if (stat(path, &st) != 0 || (st.st_mode & (S_IRWXG | S_IRWXO)) == 0)
        return;
    if (chmod(path, S_IRUSR | S_IWUSR) != 0)
        log_warn("store: %s is accessible by others (mode %03o) and cannot be made owner-only: %s", path,
                 (unsigned)(st.st_mode & 0777), strerror(errno));
    else if (existed)
        log_warn("store: %s was accessible by others (mode %03o); it is now 0600", path,
                 (unsigned)(st.st_mode & 0777));
}

static void make_files_private(const char *db_path, bool existed)
{
    char path[4200];
    make_private(db_path, existed);
    snprintf(path, sizeof path, "%s-wal", db_path);
    make_private(path, true);
    snprintf(path, sizeof path, "%s-shm", db_path);
    make_private(path, true);
}

/* The files are owner-only, but a directory others may enter still shows their names and sizes and
 * lets them see every file a tool puts beside them. */
static void warn_if_shared(const char *data_dir)
{
    struct stat st;
    if (stat(data_dir, &st) == 0 && (st.st_mode & (S_IRWXG | S_IRWXO)) != 0)
        log_warn("store: data directory %s is readable by others (mode %03o); make it owner-only: chmod 700 %s",
                 data_dir, (unsigned)(st.st_mode & 0777), data_dir);
}

/* A read-only store cannot migrate: it needs the schema this binary was built for. */
static bool schema_current(sqlite3 *db, char *err, size_t err_size)
{
    int version;
    if (!read_user_version(db, &version)) {
        snprintf(err, err_size, "cannot read the schema version: %s", sqlite3_errmsg(db));
        return false;
    }
    if (version != schema_migration_count) {
        snprintf(err, err_size, "the database has schema version %d, this surveyd expects %d: %s", version,
                 schema_migration_count,
                 version < schema_migration_count ? "start surveyd serve once to migrate it" : "run a newer surveyd");
        return false;
    }
    return true;
}

/* SQLite counts every allocation it makes (memory status) under one process-wide mutex, taken on
 * each malloc and free by the writer and every reader thread alike; surveyd never reads those
 * counts. Must run before SQLite initialises (the first open); later, sqlite3_config refuses
 * harmlessly. */
static pthread_once_t sqlite_configured = PTHREAD_ONCE_INIT;

static void configure_sqlite(void)
{
    sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
}

static void sqlite_close(struct store *base_store);

/* data_dir: the folder that holds surveyd.db (the location after "sqlite:"). */
static struct store *sqlite_open(const char *data_dir, const struct store_options *options, bool read_only,
                                 char *err, size_t err_size)
{
    pthread_once(&sqlite_configured, configure_sqlite);

    struct sqlite_store *store = calloc(1, sizeof *store);
    size_t path_len = strlen(data_dir) + sizeof "/surveyd.db";

    if (store == NULL || (store->path = malloc(path_len)) == NULL) {
        snprintf(err, err_size, "out of memory");
        goto fail_alloc;
    }
    store->base.backend = &store_backend_sqlite;
    snprintf(store->path, path_len, "%s/surveyd.db", data_dir);
    store->durability = options->durability;
    store->read_only = read_only;
    pthread_mutex_init(&store->readers_lock, NULL);
    pthread_key_create(&store->reader_key, reader_release);

    bool existed = access(store->path, F_OK) == 0;
    store->writer = conn_open(store, true, err, err_size);
    if (store->writer == NULL)
        goto fail;
    if (!read_only) {
        make_files_private(store->path, existed);
        warn_if_shared(data_dir);
    }
    if (store->read_only) {
        if (!schema_current(store->writer->db, err, err_size))
            goto fail;
        return &store->base;
    }
    /* quick_check reads every page: too slow for big databases at start-up. The header and schema
     * reads below catch a file that is not a database at all; deeper damage surfaces as errors. */
    if (!conn_exec(store->writer->db, "PRAGMA journal_mode = WAL", err, err_size)) {
        char detail[256];
        snprintf(detail, sizeof detail, "%s", err);
        snprintf(err, err_size, "%s: %s", store->path, detail);
        goto fail;
    }
    if (!migrate(store->writer->db, err, err_size))
        goto fail;
    /* From here on the writer's commits never checkpoint: see sqlite_checkpointer.h. */
    store->checkpointer = wal_checkpointer_start(store->path, store->durability == STORE_DURABILITY_FULL, err, err_size);
    if (store->checkpointer == NULL)
        goto fail;
    wal_checkpointer_attach(store->checkpointer, store->writer->db);
    store->writer->checkpointer = store->checkpointer;
    return &store->base;
fail:
    sqlite_close(&store->base);
    return NULL;
fail_alloc:
    if (store)
        free(store);
    return NULL;
}

static void sqlite_close(struct store *base_store)
{
    struct sqlite_store *store = (struct sqlite_store *)base_store;
    if (store == NULL)
        return;
    pthread_mutex_lock(&store->readers_lock);
    while (store->readers) {
        struct sqlite_conn *next = store->readers->next;
        conn_close(store->readers);
        store->readers = next;
    }
    pthread_mutex_unlock(&store->readers_lock);
    wal_checkpointer_stop(store->checkpointer);
    if (store->writer && !store->read_only) {
        /* Fold the WAL back into the database so a copy of surveyd.db alone is complete. */
        sqlite3_wal_checkpoint_v2(store->writer->db, NULL, SQLITE_CHECKPOINT_TRUNCATE, NULL, NULL);
    }
    if (store->writer)
        conn_close(store->writer);
    pthread_key_delete(store->reader_key);
    pthread_mutex_destroy(&store->readers_lock);
    free(store->path);
    free(store);
}

/* ---- helpers ---- */

static enum store_status status_of(int rc)
{
    switch (rc & 0xff) {
    case SQLITE_OK:
    case SQLITE_DONE:
    case SQLITE_ROW:
        return STORE_OK;
    case SQLITE_CONSTRAINT:
        return STORE_CONFLICT;
    case SQLITE_FULL:
    case SQLITE_IOERR:
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
    case SQLITE_READONLY:
    case SQLITE_CANTOPEN:
    case SQLITE_NOMEM:
        return STORE_UNAVAILABLE;
    default:
        return STORE_ERROR;
    }
}

static int bind_text(sqlite3_stmt *s, int index, const char *text)
{
    return text ? sqlite3_bind_text(s, index, text, -1, SQLITE_STATIC) : sqlite3_bind_null(s, index);
}

/* sqlite3_column_text() returns NULL for SQL NULL, and also when it runs out of memory making the
 * text (it may have to copy a value to terminate it); it then leaves SQLITE_NOMEM as the connection's
 * error code, which sqlite3_step() had set to SQLITE_ROW. */
static bool row_read_whole(sqlite3_stmt *s)
{
    return sqlite3_errcode(sqlite3_db_handle(s)) != SQLITE_NOMEM;
}

/* NULL for SQL NULL; a value that could not be copied (out of memory) is noted, so that the request
 * reading it fails instead of answering as if the column were empty (see oom.h). */
static char *column_text(sqlite3_stmt *s, int column)
{
    const unsigned char *text = sqlite3_column_text(s, column);
    char *copy = text ? strdup((const char *)text) : NULL;
    if ((text != NULL && copy == NULL) || !row_read_whole(s))
        oom_note();
    return copy;
}

static void copy_column(sqlite3_stmt *s, int column, char *out, size_t size)
{
    const unsigned char *text = sqlite3_column_text(s, column);
    snprintf(out, size, "%s", text ? (const char *)text : "");
    if (!row_read_whole(s))
        oom_note();
}

/* Runs a statement that returns no rows, then resets it. */
static enum store_status run(struct sqlite_conn *conn, sqlite3_stmt *s)
{
    int rc = s ? sqlite3_step(s) : SQLITE_ERROR;
    if (s) {
        sqlite3_reset(s);
        sqlite3_clear_bindings(s);
    }
    if (rc != SQLITE_DONE && rc != SQLITE_ROW) {
        enum store_status status = status_of(rc);
        if (status != STORE_CONFLICT)
            log_error("store: %s", sqlite3_errmsg(conn->db));
        return status;
    }
    return STORE_OK;
}

static void done_with(sqlite3_stmt *s)
{
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
}

/* ---- transactions ---- */

static enum store_status sqlite_begin(struct store_conn *base_conn)
{
    struct sqlite_conn *conn = (struct sqlite_conn *)base_conn;
    return run(conn, stmt(conn, STMT_BEGIN));
}

static void bind_cell(sqlite3_stmt *s, const struct rollup_cell *c)
{
    sqlite3_bind_text(s, 1, c->survey, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 2, c->day);
    sqlite3_bind_text(s, 3, c->channel, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 4, c->question, -1, SQLITE_STATIC);
    if (c->value_is_text)
        sqlite3_bind_text(s, 5, c->value_text, -1, SQLITE_STATIC);
    else
        sqlite3_bind_int64(s, 5, c->value);
    sqlite3_bind_int64(s, 6, c->delta);
    if (sqlite3_bind_parameter_count(s) >= 7)
        sqlite3_bind_text(s, 7, c->agent, -1, SQLITE_STATIC);
}

struct flush {
    struct sqlite_conn *conn;
    enum store_status status;
};

static bool flush_cell(const struct rollup_cell *cell, void *arg)
{
    static const enum stmt_id upserts[] = {
        [ROLLUP_ANSWERS] = STMT_UPSERT_ANSWERS,       [ROLLUP_ANSWERS_AGENT] = STMT_UPSERT_ANSWERS_AGENT,
        [ROLLUP_RESPONSES] = STMT_UPSERT_RESPONSES,   [ROLLUP_RESPONSES_AGENT] = STMT_UPSERT_RESPONSES_AGENT,
        [ROLLUP_ANSWERED] = STMT_UPSERT_ANSWERED,
        [ROLLUP_ANSWERS_MONTH] = STMT_UPSERT_ANSWERS_MONTH,
        [ROLLUP_RESPONSES_MONTH] = STMT_UPSERT_RESPONSES_MONTH,
        [ROLLUP_ANSWERS_HOUR] = STMT_UPSERT_ANSWERS_HOUR,
        [ROLLUP_RESPONSES_HOUR] = STMT_UPSERT_RESPONSES_HOUR,
    };
    struct flush *flush = arg;
    sqlite3_stmt *s = stmt(flush->conn, upserts[cell->table]);
    if (s == NULL) {
        flush->status = STORE_ERROR;
        return false;
    }
    bind_cell(s, cell);
    flush->status = run(flush->conn, s);
    return flush->status == STORE_OK;
}

/* Writes the batch's rollup changes, one statement per distinct cell, then commits: the raw rows and
 * their rollups land in the same transaction, or neither does. */
static enum store_status sqlite_commit(struct store_conn *base_conn, const struct rollup_deltas *deltas)
{
    struct sqlite_conn *conn = (struct sqlite_conn *)base_conn;
    struct flush flush = {conn, STORE_OK};
    rollup_deltas_each(deltas, flush_cell, &flush);
    if (flush.status != STORE_OK)
        return flush.status;
    return run(conn, stmt(conn, STMT_COMMIT));
}

static void sqlite_rollback(struct store_conn *base_conn)
{
    struct sqlite_conn *conn = (struct sqlite_conn *)base_conn;
    /* After some errors (SQLITE_FULL, SQLITE_IOERR) SQLite has already rolled back; ROLLBACK then
     * fails harmlessly with "no transaction is active". */
    if (!sqlite3_get_autocommit(conn->db))
        run(conn, stmt(conn, STMT_ROLLBACK));
}

static enum store_status sqlite_savepoint(struct store_conn *base_conn)
{
    struct sqlite_conn *conn = (struct sqlite_conn *)base_conn;
    return run(conn, stmt(conn, STMT_SAVEPOINT));
}

static void sqlite_release(struct store_conn *base_conn)
{
    struct sqlite_conn *conn = (struct sqlite_conn *)base_conn;
    run(conn, stmt(conn, STMT_RELEASE));
}

static void sqlite_rollback_to(struct store_conn *base_conn)
{
    struct sqlite_conn *conn = (struct sqlite_conn *)base_conn;
    if (!sqlite3_get_autocommit(conn->db)) {
        run(conn, stmt(conn, STMT_ROLLBACK_TO));
        run(conn, stmt(conn, STMT_RELEASE));
    }
}

/* ---- surveys ---- */

static void read_survey_row(sqlite3_stmt *s, struct store_survey_row *out)
{
    copy_column(s, 0, out->id, sizeof out->id);
    out->definition = column_text(s, 1);
    out->created_at = sqlite3_column_int64(s, 2);
    out->updated_at = sqlite3_column_int64(s, 3);
}

/* Runs a statement keyed by one text parameter and reads its single row with read(). */
static enum store_status get_one(struct sqlite_conn *conn, enum stmt_id id, const char *key,
                                 void (*read)(sqlite3_stmt *s, void *out), void *out)
{
    sqlite3_stmt *s = stmt(conn, id);
    enum store_status status = STORE_NOT_FOUND;

    if (s == NULL)
        return STORE_ERROR;
    bind_text(s, 1, key);
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
        read(s, out);
        status = STORE_OK;
    } else if (rc != SQLITE_DONE) {
        status = status_of(rc);
    }
    done_with(s);
    return status;
}

static void read_survey(sqlite3_stmt *s, void *out)
{
    read_survey_row(s, out);
}

static enum store_status sqlite_get_survey(struct store_conn *base_conn, const char *id, struct store_survey_row *out)
{
    struct sqlite_conn *conn = (struct sqlite_conn *)base_conn;
    memset(out, 0, sizeof *out);
    enum store_status status = get_one(conn, STMT_GET_SURVEY, id, read_survey, out);
    /* The column is NOT NULL: a NULL here is a copy that ran out of memory, never a definition. */
    if (status == STORE_OK && out->definition == NULL)
        status = STORE_UNAVAILABLE;
    return status;
}

static enum store_status sqlite_survey_unchanged(struct store_conn *base_conn, const char *id, const char *definition,
                                         bool *unchanged)
{
    struct sqlite_conn *conn = (struct sqlite_conn *)base_conn;
    sqlite3_stmt *s = stmt(conn, STMT_SURVEY_IS);
    int rc;

    *unchanged = false;
    if (s == NULL)
        return STORE_ERROR;
    bind_text(s, 1, id);
    bind_text(s, 2, definition);
    rc = sqlite3_step(s);
    if (rc == SQLITE_ROW)
        *unchanged = sqlite3_column_int(s, 0) == 1;
    done_with(s);
    return rc == SQLITE_ROW ? STORE_OK : rc == SQLITE_DONE ? STORE_NOT_FOUND : status_of(rc);
}

static enum store_status sqlite_list_surveys(struct store_conn *base_conn, void (*each)(const struct store_survey_row *, void *),
                                     void *arg)
{
    struct sqlite_conn *conn = (struct sqlite_conn *)base_conn;
    sqlite3_stmt *s = stmt(conn, STMT_LIST_SURVEYS);
    struct store_survey_row row;
    int rc;

    if (s == NULL)
        return STORE_ERROR;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        read_survey_row(s, &row);
        if (row.definition == NULL) { /* out of memory, as in store_get_survey */
            done_with(s);
            return STORE_UNAVAILABLE;
        }
        each(&row, arg);
        store_survey_row_free(&row);
    }
    done_with(s);
    return rc == SQLITE_DONE ? STORE_OK : status_of(rc);
}

static enum store_status sqlite_put_survey(struct store_conn *base_conn, const char *id, const char *definition, int64_t now_ms,
                                   bool *created)
{
    struct sqlite_conn *conn = (struct sqlite_conn *)base_conn;
    sqlite3_stmt *s = stmt(conn, STMT_INSERT_SURVEY);
    enum store_status status;

    if (s == NULL)
        return STORE_ERROR;
    bind_text(s, 1, id);
    bind_text(s, 2, definition);
    sqlite3_bind_int64(s, 3, now_ms);
    status = run(conn, s);
    if (status != STORE_OK)
        return status;
    *created = sqlite3_changes(conn->db) == 1;
    if (!*created) {
        s = stmt(conn, STMT_UPDATE_SURVEY);
        if (s == NULL)
            return STORE_ERROR;
        bind_text(s, 1, id);
        bind_text(s, 2, definition);
        sqlite3_bind_int64(s, 3, now_ms);
        if ((status = run(conn, s)) != STORE_OK)
            return status;
    }
    /* survey_questions mirrors the definition's question types for the answer_facts view. */
    s = stmt(conn, STMT_CLEAR_QUESTIONS);
    if (s == NULL)
        return STORE_ERROR;
    bind_text(s, 1, id);
    if ((status = run(conn, s)) != STORE_OK)
        return status;
    s = stmt(conn, STMT_SET_QUESTIONS);
    if (s == NULL)
        return STORE_ERROR;
    bind_text(s, 1, id);
    bind_text(s, 2, definition);
    return run(conn, s);
}

static enum store_status sqlite_delete_survey(struct store_conn *base_conn, const char *id)
{
    struct sqlite_conn *conn = (struct sqlite_conn *)base_conn;
    sqlite3_stmt *s = stmt(conn, STMT_DELETE_SURVEY);
    enum store_status status;

    if (s == NULL)
        return STORE_ERROR;
    bind_text(s, 1, id);
    status = run(conn, s);
    if (status != STORE_OK)
        return status;
    if (sqlite3_changes(conn->db) == 0)
        return STORE_NOT_FOUND;
    s = stmt(conn, STMT_DELETE_SURVEY_IDEMPOTENCY);
    if (s == NULL)
        return STORE_ERROR;
    bind_text(s, 1, id);
    return run(conn, s);
}

static enum store_status sqlite_answer_count(struct store_conn *base_conn, const char *survey, const char *question,
                                     int64_t *count)
{
    struct sqlite_conn *conn = (struct sqlite_conn *)base_conn;
    sqlite3_stmt *s = stmt(conn, STMT_ANSWER_COUNT);
    int rc;

    *count = 0;
    if (s == NULL)
        return STORE_ERROR;
    bind_text(s, 1, survey);
    bind_text(s, 2, question);
    rc = sqlite3_step(s);
    if (rc == SQLITE_ROW)
        *count = sqlite3_column_int64(s, 0);
    done_with(s);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? STORE_OK : status_of(rc);
}

/* ---- responses ---- */

/* Columns in the order of every response query: id, survey, submitted_at, received_at, channel, customer, agent, interaction, answers, properties. */
static void read_response_row(sqlite3_stmt *s, struct store_response_row *out)
{
    copy_column(s, 0, out->id, sizeof out->id);
    copy_column(s, 1, out->survey, sizeof out->survey);
    out->submitted_at = sqlite3_column_int64(s, 2);
    out->received_at = sqlite3_column_int64(s, 3);
    out->channel = column_text(s, 4);
    out->customer = column_text(s, 5);
    out->agent = column_text(s, 6);
    out->interaction = column_text(s, 7);
    out->answers = column_text(s, 8);
    out->properties = column_text(s, 9);
}

static void read_response(sqlite3_stmt *s, void *out)
{
    read_response_row(s, out);
}

static enum store_status sqlite_get_response(struct store_conn *base_conn, const char *id, struct store_response_row *out)
{
    struct sqlite_conn *conn = (struct sqlite_conn *)base_conn;
    memset(out, 0, sizeof *out);
    return get_one(conn, STMT_GET_RESPONSE, id, read_response, out);
}

/* Adds (delta +1) or removes (-1) one stored response's contribution to every rollup: read through
 * the view now, while the row is as it is, and accumulated for the commit (see rollup_deltas.h).
 * Updates and deletions take this path (they are rare); inserts compute the same facts in C from
 * the validated answers (store.c), and test_metrics checks the two agree. */
static enum store_status adjust_rollups(struct sqlite_conn *conn, int64_t seq, int delta)
{
    sqlite3_stmt *s = conn->base.job_deltas ? stmt(conn, STMT_FACTS_OF) : NULL; /* writer only */
    int rc;

    if (s == NULL)
        return STORE_ERROR;
    sqlite3_bind_int64(s, 1, seq);
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        struct store_fact f = {
            .survey = (const char *)sqlite3_column_text(s, 0),
            .submitted_at = sqlite3_column_int64(s, 1),
            .channel = (const char *)sqlite3_column_text(s, 2),
            .agent = (const char *)sqlite3_column_text(s, 3),
            .question = (const char *)sqlite3_column_text(s, 4),
            .value_is_text = sqlite3_column_type(s, 5) == SQLITE_TEXT,
            .value = sqlite3_column_int64(s, 5),
            .value_text = (const char *)sqlite3_column_text(s, 5),
        };
        if (!row_read_whole(s)) {
            rc = SQLITE_NOMEM; /* a cell without its text: the job fails rather than miscount */
            break;
        }
        store_backend_add_fact(&conn->base, &f, delta);
    }
    done_with(s);
    if (rc != SQLITE_DONE)
        return status_of(rc);

    s = stmt(conn, STMT_RESPONSE_CELL_OF);
    if (s == NULL)
        return STORE_ERROR;
    sqlite3_bind_int64(s, 1, seq);
    if ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        struct store_fact f = {
            .survey = (const char *)sqlite3_column_text(s, 0),
            .submitted_at = sqlite3_column_int64(s, 1),
            .channel = (const char *)sqlite3_column_text(s, 2),
            .agent = (const char *)sqlite3_column_text(s, 3),
        };
        if (!row_read_whole(s))
            rc = SQLITE_NOMEM;
        else
            store_backend_add_fact(&conn->base, &f, delta);
    }
    done_with(s);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return status_of(rc);
    return conn->base.deltas_lost ? STORE_ERROR : STORE_OK;
}

static enum store_status find_interaction(struct sqlite_conn *conn, const char *survey, const char *interaction,
                                          char existing_id[32])
{
    sqlite3_stmt *s = stmt(conn, STMT_FIND_INTERACTION);
    int rc;

    existing_id[0] = '\0';
    if (s == NULL)
        return STORE_ERROR;
    bind_text(s, 1, survey);
    bind_text(s, 2, interaction);
    rc = sqlite3_step(s);
    if (rc == SQLITE_ROW)
        copy_column(s, 0, existing_id, 32);
    done_with(s);
    return rc == SQLITE_ROW ? STORE_CONFLICT : rc == SQLITE_DONE ? STORE_OK : status_of(rc);
}

static enum store_status sqlite_insert_response(struct store_conn *base_conn, const struct response *r,
                                        const struct store_edit_token *token, char existing_id[32])
{
    struct sqlite_conn *conn = (struct sqlite_conn *)base_conn;
    sqlite3_stmt *s;
    enum store_status status;

    existing_id[0] = '\0';
    s = stmt(conn, STMT_INSERT_RESPONSE);
    if (s == NULL)
        return STORE_ERROR;
    bind_text(s, 1, r->id);
    bind_text(s, 2, r->survey);
    sqlite3_bind_int64(s, 3, r->submitted_at);
    sqlite3_bind_int64(s, 4, r->received_at);
    bind_text(s, 5, r->channel);
    bind_text(s, 6, r->customer);
    bind_text(s, 7, r->agent);
    bind_text(s, 8, r->interaction);
    bind_text(s, 9, r->answers_json);
    bind_text(s, 10, r->properties_json);
    if (token) {
        sqlite3_bind_blob(s, 11, token->hash, (int)token->hash_len, SQLITE_STATIC);
        sqlite3_bind_int64(s, 12, token->expires_at);
    }
    /* Inserted first, looked up only on a conflict: the UNIQUE (survey, interaction) index does the
     * check anyway, and a search of it before every insert cost a B-tree descent per response. */
    status = run(conn, s);
    if (status == STORE_CONFLICT && r->interaction) {
        status = find_interaction(conn, r->survey, r->interaction, existing_id);
        if (status != STORE_OK) /* CONFLICT: that interaction's response, in existing_id */
            return status;
        status = STORE_CONFLICT;
    }
    if (status == STORE_CONFLICT) /* the survey vanished (foreign key) or an id collided */
        return STORE_NOT_FOUND;
    return status;
}

/* ---- listing and export ---- */

/* Binds copies of the query's strings: an export's statement outlives the request handler that
 * built the query. */
static sqlite3_stmt *bind_list(struct sqlite_conn *conn, const struct store_list_query *q)
{
    sqlite3_stmt *s = stmt(conn, q->survey ? STMT_LIST : STMT_LIST_CUSTOMER);
    const char *texts[] = {q->survey, NULL, q->before_id ? q->before_id : "", NULL,
                           q->channel, q->agent, q->customer, q->interaction};
    if (s == NULL)
        return NULL;
    for (int i = 0; i < 8; i++) {
        if (i == 1 || i == 3)
            continue;
        if (texts[i])
            sqlite3_bind_text(s, i + 1, texts[i], -1, SQLITE_TRANSIENT);
        else
            sqlite3_bind_null(s, i + 1);
    }
    sqlite3_bind_int64(s, 2, q->before_ms);
    sqlite3_bind_int64(s, 4, q->from_ms);
    sqlite3_bind_int64(s, 9, q->limit);
    return s;
}

static enum store_status sqlite_list_responses(struct store_conn *base_conn, const struct store_list_query *q,
                                       void (*each)(const struct store_response_row *row, void *arg), void *arg)
{
    struct sqlite_conn *conn = (struct sqlite_conn *)base_conn;
    sqlite3_stmt *s = bind_list(conn, q);
    struct store_response_row row;
    int rc;

    if (s == NULL)
        return STORE_ERROR;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        read_response_row(s, &row);
        each(&row, arg);
        store_response_row_free(&row);
    }
    done_with(s);
    return rc == SQLITE_DONE ? STORE_OK : status_of(rc);
}

/* An export reads in short stretches: between store_iter_pause() and the next row, no statement is
 * open, so no read snapshot outlives a stretch. A snapshot held for a whole export would pin the WAL
 * (it could not be checkpointed or reset while ingest goes on) and keep an erased customer's pages
 * in it; each stretch restarts from the last row read, keyset style. */
struct sqlite_iter {
    struct store_iter base;
    struct sqlite_conn *conn;    /* its own: an export must not disturb a request thread's statements */
    sqlite3_stmt *stmt;         /* non-NULL while a stretch is open */
    struct store_list_query query;
    char *texts[6];             /* the query's strings, owned */
    int64_t remaining;          /* rows still wanted; -1 for all */
    bool started;
    int64_t last_ms;            /* the last row returned */
    char last_id[32];
};

static char *own(struct sqlite_iter *it, int slot, const char *text)
{
    return text ? (it->texts[slot] = strdup(text)) : NULL;
}

static void sqlite_iter_pause(struct store_iter *base_it);
static void sqlite_iter_close(struct store_iter *base_it);

static struct store_iter *sqlite_iter_open(struct store *base_store, const struct store_list_query *q, char *err,
                                           size_t err_size)
{
    struct sqlite_store *store = (struct sqlite_store *)base_store;
    struct sqlite_iter *it = calloc(1, sizeof *it);
    if (it == NULL)
        return NULL;
    it->base.backend = &store_backend_sqlite;
    it->conn = conn_open(store, false, err, err_size);
    if (it->conn == NULL) {
        sqlite_iter_close(&it->base);
        return NULL;
    }
    it->query = *q;
    it->query.survey = own(it, 0, q->survey);
    it->query.before_id = own(it, 1, q->before_id);
    it->query.channel = own(it, 2, q->channel);
    it->query.agent = own(it, 3, q->agent);
    it->query.customer = own(it, 4, q->customer);
    it->query.interaction = own(it, 5, q->interaction);
    it->remaining = q->limit;
    return &it->base;
}

static enum store_status sqlite_iter_next(struct store_iter *base_it, struct store_response_row *row)
{
    struct sqlite_iter *it = (struct sqlite_iter *)base_it;
    if (it->remaining == 0)
        return STORE_NOT_FOUND;
    if (it->stmt == NULL) {
        struct store_list_query q = it->query;
        if (it->started) {
            q.before_ms = it->last_ms;
            q.before_id = it->last_id;
        }
        q.limit = it->remaining;
        if ((it->stmt = bind_list(it->conn, &q)) == NULL)
            return STORE_ERROR;
    }
    int rc = sqlite3_step(it->stmt);
    if (rc == SQLITE_ROW) {
        read_response_row(it->stmt, row);
        it->started = true;
        it->last_ms = row->submitted_at;
        size_t id_len = strnlen(row->id, sizeof it->last_id - 1); /* ids are 26 characters */
        memcpy(it->last_id, row->id, id_len);
        it->last_id[id_len] = '\0';
        if (it->remaining > 0)
            it->remaining--;
        return STORE_OK;
    }
    sqlite_iter_pause(&it->base);
    return rc == SQLITE_DONE ? STORE_NOT_FOUND : status_of(rc);
}

static void sqlite_iter_pause(struct store_iter *base_it)
{
    struct sqlite_iter *it = (struct sqlite_iter *)base_it;
    if (it->stmt) {
        done_with(it->stmt); /* ends the read transaction */
        it->stmt = NULL;
    }
    /* Between stretches the export waits on its client, maybe for long: its page cache (up to 2 MB
     * per connection, and exports run side by side) is worth nothing meanwhile. */
    if (it->conn)
        sqlite3_db_release_memory(it->conn->db);
}

static void sqlite_iter_close(struct store_iter *base_it)
{
    struct sqlite_iter *it = (struct sqlite_iter *)base_it;
    if (it == NULL)
        return;
    sqlite_iter_pause(&it->base);
    if (it->conn)
        conn_close(it->conn);
    for (int i = 0; i < 6; i++)
        free(it->texts[i]);
    free(it);
}

/* ---- changing and deleting responses (writer only) ---- */

static enum store_status seq_of(struct sqlite_conn *conn, const char *id, int64_t *seq)
{
    sqlite3_stmt *s = stmt(conn, STMT_SEQ_OF);
    if (s == NULL)
        return STORE_ERROR;
    bind_text(s, 1, id);
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW)
        *seq = sqlite3_column_int64(s, 0);
    done_with(s);
    return rc == SQLITE_ROW ? STORE_OK : rc == SQLITE_DONE ? STORE_NOT_FOUND : status_of(rc);
}

static enum store_status run_with_seq(struct sqlite_conn *conn, enum stmt_id id, int64_t seq)
{
    sqlite3_stmt *s = stmt(conn, id);
    if (s == NULL)
        return STORE_ERROR;
    sqlite3_bind_int64(s, 1, seq);
    return run(conn, s);
}

static enum store_status sqlite_update_answers(struct store_conn *base_conn, const char *id, const char *answers_json)
{
    struct sqlite_conn *conn = (struct sqlite_conn *)base_conn;
    int64_t seq = 0; /* set by seq_of on STORE_OK; initialised for -O3's flow analysis */
    enum store_status status = seq_of(conn, id, &seq);
    if (status != STORE_OK)
        return status;
    /* Out of the rollups as it was, back in as it is. */
    if ((status = adjust_rollups(conn, seq, -1)) != STORE_OK)
        return status;
    sqlite3_stmt *s = stmt(conn, STMT_UPDATE_ANSWERS);
    if (s == NULL)
        return STORE_ERROR;
    sqlite3_bind_int64(s, 1, seq);
    bind_text(s, 2, answers_json);
    if ((status = run(conn, s)) != STORE_OK)
        return status;
    return adjust_rollups(conn, seq, +1);
}

/* Removes one response, its rollup contributions and the idempotency records naming it. */
static enum store_status delete_seq(struct sqlite_conn *conn, int64_t seq)
{
    enum store_status status = adjust_rollups(conn, seq, -1);
    if (status == STORE_OK)
        status = run_with_seq(conn, STMT_DELETE_RESPONSE_IDEMPOTENCY, seq);
    if (status == STORE_OK)
        status = run_with_seq(conn, STMT_DELETE_RESPONSE, seq);
    return status;
}

static enum store_status sqlite_delete_response(struct store_conn *base_conn, const char *id)
{
    struct sqlite_conn *conn = (struct sqlite_conn *)base_conn;
    int64_t seq = 0; /* set by seq_of on STORE_OK; initialised for -O3's flow analysis */
    enum store_status status = seq_of(conn, id, &seq);
    return status == STORE_OK ? delete_seq(conn, seq) : status;
}

/* Collects up to max seqs from a query taking one text or integer parameter, then deletes them:
 * deleting while stepping the same table's query would be undefined. */
static enum store_status delete_selected(struct sqlite_conn *conn, enum stmt_id select, const char *text,
                                         int64_t number, int64_t max, int64_t *deleted)
{
    sqlite3_stmt *s = stmt(conn, select);
    int64_t *seqs = NULL;
    size_t count = 0, cap = 0;
    enum store_status status = STORE_OK;
    int rc;

    *deleted = 0;
    if (s == NULL)
        return STORE_ERROR;
    if (text)
        bind_text(s, 1, text);
    else
        sqlite3_bind_int64(s, 1, number);
    if (sqlite3_bind_parameter_count(s) >= 2)
        sqlite3_bind_int64(s, 2, max);
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        if (count == cap) {
            cap = cap ? cap * 2 : 64;
            int64_t *grown = realloc(seqs, cap * sizeof *seqs);
            if (grown == NULL) {
                status = STORE_ERROR;
                break;
            }
            seqs = grown;
        }
        seqs[count++] = sqlite3_column_int64(s, 0);
    }
    done_with(s);
    if (status == STORE_OK && rc != SQLITE_DONE)
        status = status_of(rc);
    for (size_t i = 0; status == STORE_OK && i < count; i++)
        status = delete_seq(conn, seqs[i]);
    free(seqs);
    if (status == STORE_OK)
        *deleted = (int64_t)count;
    return status;
}

static enum store_status sqlite_erase_customer(struct store_conn *base_conn, const char *customer, int64_t *deleted)
{
    struct sqlite_conn *conn = (struct sqlite_conn *)base_conn;
    enum store_status status = delete_selected(conn, STMT_CUSTOMER_SEQS, customer, 0, 0, deleted);
    if (status != STORE_OK)
        return status;
    sqlite3_stmt *s = stmt(conn, STMT_DELETE_CUSTOMER_IDEMPOTENCY);
    if (s == NULL)
        return STORE_ERROR;
    bind_text(s, 1, customer);
    return run(conn, s);
}

static enum store_status sqlite_delete_before(struct store_conn *base_conn, int64_t cutoff_ms, int64_t max, int64_t *deleted)
{
    struct sqlite_conn *conn = (struct sqlite_conn *)base_conn;
    return delete_selected(conn, STMT_OLD_SEQS, NULL, cutoff_ms, max, deleted);
}

static void sqlite_between_batches(struct store_conn *base_conn)
{
    struct sqlite_conn *conn = (struct sqlite_conn *)base_conn;
    wal_checkpointer_writer_turn(conn->checkpointer, conn->db);
}

static enum store_status sqlite_checkpoint(struct sqlite_conn *conn)
{
    /* Never at the same time as the background checkpointer's: the second would fail at once. */
    wal_checkpointer_lock(conn->checkpointer);
    int rc = sqlite3_wal_checkpoint_v2(conn->db, NULL, SQLITE_CHECKPOINT_TRUNCATE, NULL, NULL);
    wal_checkpointer_unlock(conn->checkpointer);
    return rc == SQLITE_OK ? STORE_OK : status_of(rc);
}

/* Searches the database file for any of the needles, reading it through the descriptor SQLite
 * already holds (SQLITE_FCNTL_FILE_POINTER, then the VFS's xRead): never through a descriptor of
 * our own. Closing any descriptor of a file drops every POSIX lock this process holds on it,
 * SQLite's included; `surveyd verify` or `backup` would then take themselves for the last user,
 * checkpoint and delete -wal and -shm while we go on committing into the deleted files.
 * (sqlite_dbpage would read pages through SQL, but Debian's libsqlite3 is built without
 * SQLITE_ENABLE_DBPAGE_VTAB.) Errors count as found: a file we cannot read is not proven clean. */
static bool file_contains(sqlite3 *db, char *const *needles, int count)
{
    enum { CHUNK = 1 << 20, OVERLAP = 64 };
    sqlite3_file *file = NULL;
    sqlite3_int64 size = 0, offset = 0;
    char *buf = NULL;
    size_t kept = 0;
    bool found = true;

    if (sqlite3_file_control(db, "main", SQLITE_FCNTL_FILE_POINTER, &file) != SQLITE_OK || file == NULL ||
        file->pMethods == NULL || file->pMethods->xFileSize(file, &size) != SQLITE_OK ||
        (buf = malloc(CHUNK + OVERLAP)) == NULL)
        goto done;
    found = false;
    while (offset < size && !found) {
        int n = size - offset < CHUNK ? (int)(size - offset) : CHUNK;
        if (file->pMethods->xRead(file, buf + kept, n, offset) != SQLITE_OK) {
            found = true;
            break;
        }
        offset += n;
        size_t len = kept + (size_t)n;
        for (int i = 0; i < count && !found; i++)
            found = memmem(buf, len, needles[i], strlen(needles[i])) != NULL;
        /* Keep the tail, so a needle split across two chunks is still seen. */
        kept = len < OVERLAP ? len : OVERLAP;
        memmove(buf, buf + len - kept, kept);
    }
done:
    free(buf);
    return found;
}

static enum store_status sqlite_purge(struct store_conn *base_conn, char *const *needles, int count, bool *vacuumed)
{
    struct sqlite_conn *conn = (struct sqlite_conn *)base_conn;
    enum store_status status;

    *vacuumed = false;
    /* Readers hold snapshots briefly (exports read in short stretches): a few tries suffice. */
    for (int attempt = 0; attempt < 5; attempt++) {
        if ((status = sqlite_checkpoint(conn)) == STORE_OK)
            break;
    }
    if (status != STORE_OK || count == 0 || !file_contains(conn->db, needles, count))
        return status;
    *vacuumed = true;
    if (sqlite3_exec(conn->db, "VACUUM", NULL, NULL, NULL) != SQLITE_OK) {
        log_error("store: VACUUM after an erasure failed: %s", sqlite3_errmsg(conn->db));
        return status_of(sqlite3_errcode(conn->db));
    }
    return sqlite_checkpoint(conn);
}

static enum store_status sqlite_customer_traces(struct store_conn *base_conn, const char *customer, char ***ids, int *count)
{
    struct sqlite_conn *conn = (struct sqlite_conn *)base_conn;
    sqlite3_stmt *s = NULL;
    int cap = 0, rc;

    *ids = NULL;
    *count = 0;
    static const char sql[] =
        "SELECT id FROM responses WHERE customer = ?1"
        " UNION SELECT a.value FROM responses AS r, json_each(r.answers) AS a"
        "  WHERE r.customer = ?1 AND a.type = 'text' AND length(CAST(a.value AS BLOB)) >= 8"
        " UNION SELECT ?1 WHERE length(CAST(?1 AS BLOB)) >= 6";
    if (sqlite3_prepare_v2(conn->db, sql, -1, &s, NULL) != SQLITE_OK)
        return STORE_ERROR;
    bind_text(s, 1, customer);
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        if (*count == cap) {
            cap = cap ? cap * 2 : 16;
            char **grown = realloc(*ids, (size_t)cap * sizeof *grown);
            if (grown == NULL) {
                rc = SQLITE_NOMEM; /* a partial list would let the scrub miss traces */
                break;
            }
            *ids = grown;
        }
        if (((*ids)[*count] = column_text(s, 0)) == NULL) {
            rc = SQLITE_NOMEM;
            break;
        }
        (*count)++;
    }
    sqlite3_finalize(s);
    return rc == SQLITE_DONE ? STORE_OK : status_of(rc);
}

/* ---- idempotency ---- */

static enum store_status sqlite_get_idempotency(struct store_conn *base_conn, const char *scope, const char *key,
                                                struct store_idempotency_row *row)
{
    struct sqlite_conn *conn = (struct sqlite_conn *)base_conn;
    sqlite3_stmt *s = stmt(conn, STMT_FIND_IDEMPOTENCY);
    enum store_status status = STORE_NOT_FOUND;
    int rc;

    if (s == NULL)
        return STORE_ERROR;
    bind_text(s, 1, scope);
    bind_text(s, 2, key);
    rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
        size_t body_len = (size_t)sqlite3_column_bytes(s, 0);
        row->body = malloc(body_len ? body_len : 1);
        row->body_len = body_len;
        if (row->body && body_len)
            memcpy(row->body, sqlite3_column_blob(s, 0), body_len);
        row->status = sqlite3_column_int(s, 1);
        row->reply = column_text(s, 2);
        row->response_id = column_text(s, 3);
        status = row->body && row_read_whole(s) ? STORE_OK : STORE_ERROR;
    } else if (rc != SQLITE_DONE) {
        status = status_of(rc);
    }
    done_with(s);
    return status;
}

static enum store_status sqlite_save_idempotency(struct store_conn *base_conn, const struct store_idempotency *request,
                                         int status, const char *reply, const char *response_id,
                                         const char *customer, int64_t now_ms)
{
    struct sqlite_conn *conn = (struct sqlite_conn *)base_conn;
    sqlite3_stmt *s = stmt(conn, STMT_SAVE_IDEMPOTENCY);

    if (s == NULL)
        return STORE_ERROR;
    bind_text(s, 1, request->scope);
    bind_text(s, 2, request->key);
    sqlite3_bind_blob(s, 3, request->body_len ? request->body : "", (int)request->body_len, SQLITE_STATIC);
    sqlite3_bind_int(s, 4, status);
    bind_text(s, 5, reply);
    bind_text(s, 6, response_id);
    bind_text(s, 7, customer);
    sqlite3_bind_int64(s, 8, now_ms);
    bind_text(s, 9, request->survey);
    return run(conn, s);
}

/* ---- edit tokens (follow-up capabilities; only their hashes are stored) ---- */

static enum store_status sqlite_get_edit_token(struct store_conn *base_conn, const char *response_id, unsigned char *hash,
                                       size_t hash_len, int64_t *expires_at)
{
    struct sqlite_conn *conn = (struct sqlite_conn *)base_conn;
    sqlite3_stmt *s = stmt(conn, STMT_GET_EDIT_TOKEN);
    enum store_status status = STORE_NOT_FOUND;

    if (s == NULL)
        return STORE_ERROR;
    bind_text(s, 1, response_id);
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
        /* A stored hash of another length (never written by this code) grants nothing. */
        if ((size_t)sqlite3_column_bytes(s, 0) == hash_len) {
            memcpy(hash, sqlite3_column_blob(s, 0), hash_len);
            *expires_at = sqlite3_column_int64(s, 1);
            status = STORE_OK;
        }
    } else if (rc != SQLITE_DONE) {
        status = status_of(rc);
    }
    done_with(s);
    return status;
}

/* ---- metrics ---- */

static int64_t floor_div(int64_t a, int64_t b)
{
    return a / b - (a % b != 0 && (a < 0) != (b < 0));
}

/* Runs one scan statement over [lo, hi), passing each row to each(). */
static enum store_status scan(struct sqlite_conn *conn, enum stmt_id id, const struct store_metrics_query *q,
                              int64_t lo, int64_t hi, store_metrics_fn each, void *arg)
{
    sqlite3_stmt *s = stmt(conn, id);
    struct store_metrics_cell cell;
    int rc;

    if (s == NULL)
        return STORE_ERROR;
    bind_text(s, 1, q->survey);
    sqlite3_bind_int64(s, 2, lo);
    sqlite3_bind_int64(s, 3, hi);
    bind_text(s, 4, q->channel);
    bind_text(s, 5, q->agent);
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        cell.day = sqlite3_column_int64(s, 0);
        cell.channel = (const char *)sqlite3_column_text(s, 1);
        cell.agent = (const char *)sqlite3_column_text(s, 2);
        cell.question = (const char *)sqlite3_column_text(s, 3);
        cell.value_is_text = sqlite3_column_type(s, 4) == SQLITE_TEXT;
        cell.value = sqlite3_column_int64(s, 4);
        cell.value_text = cell.value_is_text ? (const char *)sqlite3_column_text(s, 4) : NULL;
        cell.count = sqlite3_column_int64(s, 5);
        if (!row_read_whole(s)) {
            rc = SQLITE_NOMEM;
            break;
        }
        if (cell.count != 0)
            each(&cell, arg);
    }
    done_with(s);
    return rc == SQLITE_DONE ? STORE_OK : status_of(rc);
}

/* The statements of one query, by time granularity: its filters decide which tables can answer. */
struct scan_plan {
    struct sqlite_conn *conn;
    const struct store_metrics_query *q;
    store_metrics_fn each;
    void *arg;
    enum stmt_id answers, responses;        /* whole days */
    bool coarse;                            /* no agent in play: month and hour tables can answer */
    enum store_status status;
};

static void scan_pair(struct scan_plan *p, enum stmt_id answers, enum stmt_id responses, int64_t lo, int64_t hi)
{
    if (p->status != STORE_OK || lo >= hi)
        return;
    p->status = scan(p->conn, answers, p->q, lo, hi, p->each, p->arg);
    if (p->status == STORE_OK)
        p->status = scan(p->conn, responses, p->q, lo, hi, p->each, p->arg);
}

/* The first day of the first month starting at or after day. */
static int64_t month_ceil(int64_t day)
{
    int64_t month = store_backend_month_of_day(day);
    return month == day ? day : store_backend_month_of_day(month + 31); /* month + 31 lies in the next month */
}

/* Whole days [first_day, end_day) (either open: INT64_MIN / INT64_MAX): the months they cover
 * entirely from the month tables, the days before and after from the day tables. Groupings by
 * day or week need every cell's own day, and agent queries have no month tables: day cells
 * throughout. */
static void scan_days(struct scan_plan *p, int64_t first_day, int64_t end_day)
{
    int64_t first_month = first_day == INT64_MIN ? INT64_MIN : month_ceil(first_day);
    int64_t end_month = end_day == INT64_MAX ? INT64_MAX : store_backend_month_of_day(end_day);
    if (p->q->by_day || !p->coarse || first_month >= end_month) {
        scan_pair(p, p->answers, p->responses, first_day, end_day);
        return;
    }
    scan_pair(p, p->answers, p->responses, first_day, first_month);
    scan_pair(p, STMT_SCAN_ANSWERS_MONTH, STMT_SCAN_RESPONSES_MONTH, first_month, end_month);
    scan_pair(p, p->answers, p->responses, end_month, end_day);
}

/* A partial day [lo_ms, hi_ms): whole hours from the hour tables when they can answer, the rest
 * (at most two partial hours) from raw rows. */
static void scan_edge(struct scan_plan *p, int64_t lo_ms, int64_t hi_ms)
{
    int64_t first_hour = floor_div(lo_ms + STORE_MS_PER_HOUR - 1, STORE_MS_PER_HOUR);
    int64_t end_hour = floor_div(hi_ms, STORE_MS_PER_HOUR);
    if (!p->coarse || first_hour >= end_hour) {
        scan_pair(p, STMT_SCAN_RAW_ANSWERS, STMT_SCAN_RAW_RESPONSES, lo_ms, hi_ms);
        return;
    }
    scan_pair(p, STMT_SCAN_RAW_ANSWERS, STMT_SCAN_RAW_RESPONSES, lo_ms, first_hour * STORE_MS_PER_HOUR);
    scan_pair(p, STMT_SCAN_ANSWERS_HOUR, STMT_SCAN_RESPONSES_HOUR, first_hour, end_hour);
    scan_pair(p, STMT_SCAN_RAW_ANSWERS, STMT_SCAN_RAW_RESPONSES, end_hour * STORE_MS_PER_HOUR, hi_ms);
}

static enum store_status sqlite_metrics_scan(struct store_conn *base_conn, const struct store_metrics_query *q,
                                     store_metrics_fn each, void *arg)
{
    struct sqlite_conn *conn = (struct sqlite_conn *)base_conn;
    struct scan_plan p = {
        .conn = conn, .q = q, .each = each, .arg = arg,
        .answers = STMT_SCAN_ANSWERS,
        .responses = STMT_SCAN_RESPONSES,
        .coarse = !q->agent && !q->by_agent,
        .status = STORE_OK,
    };
    if (q->agent) {
        p.answers = STMT_SCAN_ANSWERS_AGENT;
        p.responses = STMT_SCAN_RESPONSES_AGENT;
    } else if (q->by_agent) {
        p.answers = STMT_SCAN_ANSWERS_ALL_AGENTS;
        p.responses = STMT_SCAN_RESPONSES_ALL_AGENTS;
    }
    /* Whole days from the rollups; the partial days at either edge from hours and raw rows, which
     * costs at most two days' hours and two partial hours' responses, whatever the window. */
    int64_t first_day = q->from_ms == INT64_MIN ? INT64_MIN : floor_div(q->from_ms + STORE_MS_PER_DAY - 1, STORE_MS_PER_DAY);
    int64_t end_day = q->to_ms == INT64_MAX ? INT64_MAX : floor_div(q->to_ms, STORE_MS_PER_DAY);
    if (first_day >= end_day) { /* no whole day inside: both bounds are given */
        scan_edge(&p, q->from_ms, q->to_ms);
        return p.status;
    }
    scan_days(&p, first_day, end_day);
    /* The edges exist only for a given bound; their day products are formed only then (the open
     * bounds are INT64_MIN / INT64_MAX days, whose products would overflow). */
    if (q->from_ms != INT64_MIN)
        scan_edge(&p, q->from_ms, first_day * STORE_MS_PER_DAY);
    if (q->to_ms != INT64_MAX)
        scan_edge(&p, end_day * STORE_MS_PER_DAY, q->to_ms);
    return p.status;
}

static enum store_status sqlite_day_span(struct store_conn *base_conn, const char *survey, int64_t *first_day, int64_t *last_day)
{
    struct sqlite_conn *conn = (struct sqlite_conn *)base_conn;
    sqlite3_stmt *s = stmt(conn, STMT_DAY_SPAN);
    enum store_status status = STORE_NOT_FOUND;

    if (s == NULL)
        return STORE_ERROR;
    bind_text(s, 1, survey);
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW && sqlite3_column_type(s, 0) != SQLITE_NULL) {
        *first_day = sqlite3_column_int64(s, 0);
        *last_day = sqlite3_column_int64(s, 1);
        status = STORE_OK;
    } else if (rc != SQLITE_ROW) {
        status = status_of(rc);
    }
    done_with(s);
    return status;
}

/* ---- consistency ---- */

/* Stored rows of a (survey, day) the walk of sqlite_verify.c never visits: days without responses,
 * rollup_responses or rollup_answers rows, and surveys that do not exist. */
#define UNVISITED_DAY                                                                                           \
    " (x.survey NOT IN (SELECT id FROM surveys) OR (NOT EXISTS (SELECT 1 FROM responses WHERE survey = x.survey" \
    " AND submitted_at BETWEEN (x.day - 1) * 86400000 AND (x.day + 1) * 86400000"                                \
    " AND submitted_at / 86400000 = x.day)"                                                                      \
    " AND NOT EXISTS (SELECT 1 FROM rollup_responses WHERE survey = x.survey AND day = x.day)"                   \
    " AND NOT EXISTS (SELECT 1 FROM rollup_answers WHERE survey = x.survey AND day = x.day)))"
/* One day's responses of one survey, through the (survey, submitted_at) index (see bind_day). */
#define DAY_RESPONSES " survey = ?1 AND submitted_at BETWEEN ?3 AND ?4 AND submitted_at / 86400000 = ?2"

/* A day's month, as the month tables key it (schema/006_rollup_months_hours.sql). */
#define MONTH_OF_DAY "unixepoch(day * 86400, 'unixepoch', 'start of month') / 86400"

/* Every rollup table and how `surveyd verify` recomputes it from the raw rows (sqlite_verify.h). The
 * day tables are streamed (day_expected: `expected` for one day, a row per answer) and answered_questions summed from rollup_answers' cells; an entry with only `expected`
 * and `stored` is diffed with EXCEPT, which suits small tables. */
static const struct rollup_check rollup_checks[] = {
    {.table = "rollup_answers",
     .expected = "SELECT survey, day, channel, question, value, count(*) FROM answer_facts GROUP BY 1, 2, 3, 4, 5",
     .stored = "SELECT survey, day, channel, question, value, count FROM rollup_answers WHERE count != 0",
     .derived_from = "rollup_answers_agent",
     .key_columns = (const int[]){0, 2, 3, 4, 5, -1}, /* without the agent */
     .day_stored = "SELECT survey, day, channel, question, value, count FROM rollup_answers"
                   " WHERE survey = ?1 AND day = ?2 AND count != 0",
     .unvisited = "SELECT survey, day, channel, question, value, count FROM rollup_answers AS x"
                  " WHERE count != 0 AND" UNVISITED_DAY},
    {.table = "rollup_answers_agent",
     .expected = "SELECT survey, agent, day, channel, question, value, count(*) FROM answer_facts"
                 " GROUP BY 1, 2, 3, 4, 5, 6",
     .stored = "SELECT survey, agent, day, channel, question, value, count FROM rollup_answers_agent WHERE count != 0",
     /* The hour (column 6) is there for rollup_answers_hour, which counts these rows too. */
     .day_expected = "SELECT survey, agent, day, channel, question, value, submitted_at / 3600000, 1 FROM answer_facts"
                     " WHERE" DAY_RESPONSES,
     .key_columns = (const int[]){0, 1, 2, 3, 4, 5, -1},
     /* The agents come from the stored agent rollups themselves (?5): one seek per agent and day. */
     .day_stored = "SELECT survey, agent, day, channel, question, value, count FROM rollup_answers_agent"
                   " WHERE survey = ?1 AND agent IN (SELECT value FROM json_each(?5)) AND day = ?2 AND count != 0",
     .unvisited = "SELECT survey, agent, day, channel, question, value, count FROM rollup_answers_agent AS x"
                  " WHERE count != 0 AND" UNVISITED_DAY},
    {.table = "rollup_responses",
     .expected = "SELECT survey, submitted_at / 86400000, coalesce(channel, ''), count(*) FROM responses GROUP BY 1, 2, 3",
     .stored = "SELECT survey, day, channel, count FROM rollup_responses WHERE count != 0",
     .derived_from = "rollup_responses_agent",
     .key_columns = (const int[]){0, 2, 3, -1}, /* without the agent */
     .day_stored = "SELECT survey, day, channel, count FROM rollup_responses WHERE survey = ?1 AND day = ?2"
                   " AND count != 0",
     .unvisited = "SELECT survey, day, channel, count FROM rollup_responses AS x WHERE count != 0 AND" UNVISITED_DAY},
    {.table = "rollup_responses_agent",
     .expected = "SELECT survey, coalesce(agent, ''), submitted_at / 86400000, coalesce(channel, ''), count(*)"
                 " FROM responses GROUP BY 1, 2, 3, 4",
     .stored = "SELECT survey, agent, day, channel, count FROM rollup_responses_agent WHERE count != 0",
     /* The hour (column 4) is there for rollup_responses_hour, which counts these rows too. */
     .day_expected = "SELECT survey, coalesce(agent, ''), submitted_at / 86400000, coalesce(channel, ''),"
                     " submitted_at / 3600000, 1 FROM responses WHERE" DAY_RESPONSES,
     .key_columns = (const int[]){0, 1, 2, 3, -1},
     .day_stored = "SELECT survey, agent, day, channel, count FROM rollup_responses_agent"
                   " WHERE survey = ?1 AND agent IN (SELECT value FROM json_each(?5)) AND day = ?2 AND count != 0",
     .unvisited = "SELECT survey, agent, day, channel, count FROM rollup_responses_agent AS x"
                  " WHERE count != 0 AND" UNVISITED_DAY},
    {.table = "answered_questions",
     .expected = "SELECT survey, question, count(*) FROM answer_facts GROUP BY 1, 2",
     .stored = "SELECT survey, question, answers FROM answered_questions WHERE answers != 0",
     .sum_of = "rollup_answers_agent",
     .sum_column = 4, /* question */
     .day_stored = "SELECT survey, question, answers FROM answered_questions WHERE survey = ?1 AND answers != 0",
     .unvisited = "SELECT survey, question, answers FROM answered_questions"
                  " WHERE answers != 0 AND survey NOT IN (SELECT id FROM surveys)"},
    /* Months from the day tables (checked against the raw rows above): small, diffed with EXCEPT. */
    {.table = "rollup_answers_month",
     .expected = "SELECT survey, " MONTH_OF_DAY ", channel, question, value, sum(count) FROM rollup_answers"
     " GROUP BY 1, 2, 3, 4, 5 HAVING sum(count) != 0",
     .stored = "SELECT survey, month, channel, question, value, count FROM rollup_answers_month WHERE count != 0"},
    {.table = "rollup_responses_month",
     .expected = "SELECT survey, " MONTH_OF_DAY ", channel, sum(count) FROM rollup_responses GROUP BY 1, 2, 3 HAVING sum(count) != 0",
     .stored = "SELECT survey, month, channel, count FROM rollup_responses_month WHERE count != 0"},
    /* Hours are streamed with the day walk (a day's hours: ?2 * 24 - 23 .. ?2 * 24 + 23, truncated like
     * submitted_at / 86400000), counted from the agent day checks' rows (their hour column instead of
     * agent and day): the day's answers are read through answer_facts once for all four tables. */
    {.table = "rollup_answers_hour",
     .expected = "SELECT survey, submitted_at / 3600000, channel, question, value, count(*) FROM answer_facts"
                 " GROUP BY 1, 2, 3, 4, 5",
     .stored = "SELECT survey, hour, channel, question, value, count FROM rollup_answers_hour WHERE count != 0",
     .derived_from = "rollup_answers_agent",
     .key_columns = (const int[]){0, 6, 3, 4, 5, -1},
     .day_stored = "SELECT survey, hour, channel, question, value, count FROM rollup_answers_hour"
                   " WHERE survey = ?1 AND hour BETWEEN ?2 * 24 - 23 AND ?2 * 24 + 23 AND hour / 24 = ?2 AND count != 0",
     .unvisited = "SELECT survey, hour, channel, question, value, count"
                  " FROM (SELECT *, hour / 24 AS day FROM rollup_answers_hour) AS x WHERE count != 0 AND" UNVISITED_DAY},
    {.table = "rollup_responses_hour",
     .expected = "SELECT survey, submitted_at / 3600000, coalesce(channel, ''), count(*) FROM responses GROUP BY 1, 2, 3",
     .stored = "SELECT survey, hour, channel, count FROM rollup_responses_hour WHERE count != 0",
     .derived_from = "rollup_responses_agent",
     .key_columns = (const int[]){0, 4, 3, -1},
     .day_stored = "SELECT survey, hour, channel, count FROM rollup_responses_hour"
                   " WHERE survey = ?1 AND hour BETWEEN ?2 * 24 - 23 AND ?2 * 24 + 23 AND hour / 24 = ?2 AND count != 0",
     .unvisited = "SELECT survey, hour, channel, count FROM (SELECT *, hour / 24 AS day FROM rollup_responses_hour) AS x"
                  " WHERE count != 0 AND" UNVISITED_DAY},
};
#define ROLLUP_CHECKS (sizeof rollup_checks / sizeof rollup_checks[0])

/* Reports the rows of one side missing from the other (the checks that are not streamed). */
static enum store_status diff_rows(sqlite3 *db, const struct rollup_check *check, bool expected_side,
                                   void (*report)(const char *line, void *arg), void *arg, uint64_t *differences)
{
    char sql[2048];
    sqlite3_stmt *s = NULL;
    int rc;

    snprintf(sql, sizeof sql, "%s EXCEPT %s", expected_side ? check->expected : check->stored,
             expected_side ? check->stored : check->expected);
    if (sqlite3_prepare_v2(db, sql, -1, &s, NULL) != SQLITE_OK)
        return STORE_ERROR;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        sqlite_verify_report_row(s, check->table, expected_side, report, arg);
        (*differences)++;
    }
    sqlite3_finalize(s);
    return rc == SQLITE_DONE ? STORE_OK : status_of(rc);
}

static enum store_status sqlite_verify(struct store *base_store, void (*report)(const char *line, void *arg), void *arg,
                               uint64_t *differences, uint64_t *responses)
{
    struct sqlite_store *store = (struct sqlite_store *)base_store;
    struct sqlite_conn *conn = (struct sqlite_conn *)sqlite_reader(&store->base);
    enum store_status status = STORE_OK;
    sqlite3_stmt *s = NULL;

    *differences = *responses = 0;
    if (conn == NULL)
        return STORE_UNAVAILABLE;
    /* One read transaction: a consistent snapshot even while surveyd keeps writing. */
    if (sqlite3_exec(conn->db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK)
        return STORE_UNAVAILABLE;
    if (sqlite3_prepare_v2(conn->db, "SELECT count(*) FROM responses", -1, &s, NULL) == SQLITE_OK &&
        sqlite3_step(s) == SQLITE_ROW)
        *responses = (uint64_t)sqlite3_column_int64(s, 0);
    sqlite3_finalize(s);
    status = sqlite_verify_streamed(conn->db, rollup_checks, ROLLUP_CHECKS, report, arg, differences);
    for (size_t i = 0; status == STORE_OK && i < ROLLUP_CHECKS; i++) {
        if (rollup_checks[i].day_expected != NULL || rollup_checks[i].derived_from != NULL ||
            rollup_checks[i].sum_of != NULL)
            continue; /* streamed */
        status = diff_rows(conn->db, &rollup_checks[i], true, report, arg, differences);
        if (status == STORE_OK)
            status = diff_rows(conn->db, &rollup_checks[i], false, report, arg, differences);
    }
    sqlite3_exec(conn->db, "COMMIT", NULL, NULL, NULL);
    return status;
}

static enum store_status sqlite_each_answers(struct store *base_store, store_answers_fn each, void *arg)
{
    struct sqlite_store *store = (struct sqlite_store *)base_store;
    struct sqlite_conn *conn = (struct sqlite_conn *)sqlite_reader(&store->base);
    sqlite3_stmt *s = NULL;
    int rc;

    if (conn == NULL)
        return STORE_UNAVAILABLE;
    /* One statement reads one snapshot: a definition and the answers stored under it agree. */
    if (sqlite3_prepare_v2(conn->db,
                           "SELECT r.survey, s.definition, r.id, r.answers FROM responses AS r"
                           " JOIN surveys AS s ON s.id = r.survey ORDER BY r.survey",
                           -1, &s, NULL) != SQLITE_OK)
        return STORE_ERROR;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW)
        each((const char *)sqlite3_column_text(s, 0), (const char *)sqlite3_column_text(s, 1),
             (const char *)sqlite3_column_text(s, 2), (const char *)sqlite3_column_text(s, 3), arg);
    sqlite3_finalize(s);
    return rc == SQLITE_DONE ? STORE_OK : status_of(rc);
}

/* One process owns a SQLite store, so its own in-memory versions (versions.c) are always current. */
static enum store_status sqlite_data_version(struct store_conn *conn, int64_t *version)
{
    (void)conn;
    *version = 0;
    return STORE_OK;
}

/* ---- backup ---- */

static bool integrity_ok(sqlite3 *db, char *err, size_t err_size)
{
    sqlite3_stmt *s = NULL;
    bool ok = sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &s, NULL) == SQLITE_OK &&
              sqlite3_step(s) == SQLITE_ROW && strcmp((const char *)sqlite3_column_text(s, 0), "ok") == 0;
    if (!ok)
        snprintf(err, err_size, "the copy failed its integrity check: %s",
                 s && sqlite3_column_text(s, 0) ? (const char *)sqlite3_column_text(s, 0) : sqlite3_errmsg(db));
    sqlite3_finalize(s);
    return ok;
}

/* Copies through a connection of its own (read-only, leaving the serving daemon's WAL alone). */
static enum store_status sqlite_backup(struct store *base_store, const char *dest, char *err, size_t err_size)
{
    struct sqlite_store *store = (struct sqlite_store *)base_store;
    const char *source_path = store->path;
    char tmp_path[4096];
    sqlite3 *source = NULL, *copy = NULL;
    enum store_status status = STORE_ERROR;

    snprintf(tmp_path, sizeof tmp_path, "%s.tmp", dest);
    unlink(tmp_path);
    if (sqlite3_open_v2(source_path, &source, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
        snprintf(err, err_size, "cannot open %s: %s", source_path, sqlite3_errmsg(source));
        goto done;
    }
    sqlite3_busy_timeout(source, 5000);
    leave_wal_alone(source);
    if (sqlite3_open_v2(tmp_path, &copy, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) != SQLITE_OK) {
        snprintf(err, err_size, "cannot create %s: %s", tmp_path, sqlite3_errmsg(copy));
        goto done;
    }
    /* Private before a page is copied into it; its journal takes the same mode. */
    if (chmod(tmp_path, S_IRUSR | S_IWUSR) != 0) {
        snprintf(err, err_size, "cannot make %s owner-only: %s", tmp_path, strerror(errno));
        goto done;
    }
    sqlite3_backup *backup = sqlite3_backup_init(copy, "main", source, "main");
    if (backup == NULL) {
        snprintf(err, err_size, "cannot start the backup: %s", sqlite3_errmsg(copy));
        goto done;
    }
    /* One step copies every page from a single read snapshot of the WAL database. */
    int rc = sqlite3_backup_step(backup, -1);
    sqlite3_backup_finish(backup);
    if (rc != SQLITE_DONE) {
        snprintf(err, err_size, "the backup failed: %s", sqlite3_errstr(rc));
        goto done;
    }
    /* A single-file copy: no WAL beside it to lose. */
    if (sqlite3_exec(copy, "PRAGMA journal_mode = DELETE", NULL, NULL, NULL) != SQLITE_OK ||
        !integrity_ok(copy, err, err_size))
        goto done;
    sqlite3_close(copy);
    copy = NULL;
    if (rename(tmp_path, dest) != 0) {
        snprintf(err, err_size, "cannot rename %s to %s: %s", tmp_path, dest, strerror(errno));
        goto done;
    }
    status = STORE_OK;
done:
    sqlite3_close(copy);
    sqlite3_close(source);
    if (status != STORE_OK)
        unlink(tmp_path);
    return status;
}

/* ---- health ---- */

static uint64_t sqlite_size_bytes(struct store *base_store)
{
    struct sqlite_store *store = (struct sqlite_store *)base_store;
    char wal[4200];
    struct stat st;
    uint64_t total = 0;
    if (stat(store->path, &st) == 0)
        total += (uint64_t)st.st_size;
    snprintf(wal, sizeof wal, "%s-wal", store->path);
    if (stat(wal, &st) == 0)
        total += (uint64_t)st.st_size;
    return total;
}

static enum store_status sqlite_probe_write(struct store_conn *base_conn, int64_t now_ms)
{
    struct sqlite_conn *conn = (struct sqlite_conn *)base_conn;
    sqlite3_stmt *s = stmt(conn, STMT_PROBE_WRITE);
    if (s == NULL)
        return STORE_ERROR;
    sqlite3_bind_int64(s, 1, now_ms);
    return run(conn, s); /* autocommit: one fsynced transaction */
}

static bool sqlite_ping(struct store_conn *base_conn)
{
    struct sqlite_conn *conn = (struct sqlite_conn *)base_conn;
    sqlite3_stmt *s = conn ? stmt(conn, STMT_PING) : NULL;
    if (s == NULL)
        return false;
    int rc = sqlite3_step(s);
    done_with(s);
    return rc == SQLITE_ROW;
}

const struct store_backend store_backend_sqlite = {
    .name = "sqlite",
    .open = sqlite_open,
    .close = sqlite_close,
    .reader = sqlite_reader,
    .writer = sqlite_writer,
    .last_error = sqlite_last_error,
    .begin = sqlite_begin,
    .commit = sqlite_commit,
    .rollback = sqlite_rollback,
    .savepoint = sqlite_savepoint,
    .release = sqlite_release,
    .rollback_to = sqlite_rollback_to,
    .between_batches = sqlite_between_batches,
    .get_survey = sqlite_get_survey,
    .survey_unchanged = sqlite_survey_unchanged,
    .list_surveys = sqlite_list_surveys,
    .put_survey = sqlite_put_survey,
    .delete_survey = sqlite_delete_survey,
    .answer_count = sqlite_answer_count,
    .get_response = sqlite_get_response,
    .insert_response = sqlite_insert_response,
    .list_responses = sqlite_list_responses,
    .iter_open = sqlite_iter_open,
    .iter_next = sqlite_iter_next,
    .iter_pause = sqlite_iter_pause,
    .iter_close = sqlite_iter_close,
    .update_answers = sqlite_update_answers,
    .delete_response = sqlite_delete_response,
    .erase_customer = sqlite_erase_customer,
    .delete_before = sqlite_delete_before,
    .purge = sqlite_purge,
    .customer_traces = sqlite_customer_traces,
    .get_idempotency = sqlite_get_idempotency,
    .save_idempotency = sqlite_save_idempotency,
    .get_edit_token = sqlite_get_edit_token,
    .metrics_scan = sqlite_metrics_scan,
    .day_span = sqlite_day_span,
    .data_version = sqlite_data_version,
    .verify = sqlite_verify,
    .each_answers = sqlite_each_answers,
    .backup = sqlite_backup,
    .dump = sqlite_dump,
    .size_bytes = sqlite_size_bytes,
    .probe_write = sqlite_probe_write,
    .ping = sqlite_ping,
};
