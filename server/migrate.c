/* surveyd migrate --from DATA_DIR --to postgresql://...: copies a SQLite store into an empty store
 * of another backend, through the neutral storage interface alone (store_dump on the source,
 * store_import_* on the target's writer connection).
 *
 * The source is opened read-only and read from one snapshot (a serving surveyd may go on using it;
 * what it writes after the snapshot is not copied). The target must hold no survey (and so no
 * response or invitation: each belongs to a survey): copying into a store in use would mix two
 * histories. Rows go in in transactions of MIGRATE_BATCH rows, each with its rollup cells, so
 * neither side holds one enormous transaction; a copy that fails half-way leaves a partial target,
 * which the next run refuses, and the message says to recreate it. */
#include "migrate.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store.h"
#include "validate.h"

/* The definitions of the copied surveys, parsed: a response's rollup cells depend on its
 * question types. The dump gives surveys in id order, so the array is sorted for bsearch. */
struct migrate {
    struct store_conn *target;
    struct survey *surveys;
    size_t survey_count, survey_capacity;
    struct store_dump_counts expected, copied;
    int64_t in_batch, batch_rows;
    bool in_transaction;
    bool refused;               /* the target was not empty */
    char problem[512];          /* what went wrong on the target side, for the operator */
};

static int compare_survey(const void *key, const void *element)
{
    return strcmp(key, ((const struct survey *)element)->id);
}

static const struct survey *find_survey(const struct migrate *m, const char *id)
{
    return bsearch(id, m->surveys, m->survey_count, sizeof *m->surveys, compare_survey);
}

static bool keep_survey(struct migrate *m, const struct store_survey_row *row)
{
    struct validate_errors errors;
    cJSON *json = cJSON_Parse(row->definition);
    bool ok;

    if (m->survey_count == m->survey_capacity) {
        size_t capacity = m->survey_capacity ? 2 * m->survey_capacity : 16;
        struct survey *grown = realloc(m->surveys, capacity * sizeof *grown);
        if (grown == NULL) {
            cJSON_Delete(json);
            snprintf(m->problem, sizeof m->problem, "out of memory");
            return false;
        }
        m->surveys = grown;
        m->survey_capacity = capacity;
    }
    validate_errors_init(&errors);
    ok = json != NULL && validate_definition(row->id, json, &m->surveys[m->survey_count], &errors);
    validate_errors_free(&errors);
    cJSON_Delete(json);
    if (!ok) {
        snprintf(m->problem, sizeof m->problem, "survey %s: its stored definition is not valid", row->id);
        return false;
    }
    m->survey_count++;
    return true;
}

/* Counts the target's surveys, inside the first transaction. */
static void count_one(const struct store_survey_row *row, void *arg)
{
    (void)row;
    (*(int64_t *)arg)++;
}

static enum store_status start_batch(struct migrate *m)
{
    enum store_status status = store_begin(m->target);

    /* One savepoint around the batch: released before the commit, it hands the batch's rollup
     * cells to the commit, exactly as the writer thread's jobs do. */
    if (status == STORE_OK && (status = store_savepoint(m->target)) != STORE_OK)
        store_rollback(m->target);
    m->in_batch = 0;
    m->in_transaction = status == STORE_OK;
    if (status != STORE_OK)
        snprintf(m->problem, sizeof m->problem, "cannot begin a transaction: %s", store_last_error(m->target));
    return status;
}

static void abandon_batch(struct migrate *m)
{
    if (m->in_transaction) {
        store_import_end(m->target, false);
        store_rollback(m->target);
    }
    m->in_transaction = false;
}

static enum store_status finish_batch(struct migrate *m)
{
    enum store_status status = store_import_end(m->target, true);
    if (status != STORE_OK) {
        snprintf(m->problem, sizeof m->problem, "storing responses: %s", store_last_error(m->target));
        store_rollback(m->target);
        m->in_transaction = false;
        return status;
    }
    store_release(m->target);
    status = store_commit(m->target);
    if (status != STORE_OK) {
        snprintf(m->problem, sizeof m->problem, "commit failed: %s", store_last_error(m->target));
        store_rollback(m->target);
    }
    m->in_transaction = false;
    return status;
}

static enum store_status begin_copy(const struct store_dump_counts *counts, void *arg)
{
    struct migrate *m = arg;
    int64_t surveys = 0;
    enum store_status status = start_batch(m);

    m->expected = *counts;
    if (status != STORE_OK)
        return status;
    status = store_list_surveys(m->target, count_one, &surveys);
    if (status != STORE_OK) {
        snprintf(m->problem, sizeof m->problem, "the target cannot be read: %s", store_last_error(m->target));
        abandon_batch(m);
        return status;
    }
    if (surveys > 0) {
        m->refused = true;
        abandon_batch(m);
        return STORE_CONFLICT;
    }
    printf("migrate: copying %lld surveys, %lld responses, %lld idempotency records, %lld invitations, %lld webhooks,"
           " %lld webhook deliveries, %lld webhook events\n",
           (long long)counts->surveys, (long long)counts->responses, (long long)counts->records,
           (long long)counts->invitations, (long long)counts->webhooks, (long long)counts->deliveries,
           (long long)counts->events);
    fflush(stdout);
    return STORE_OK;
}

/* After each row: every MIGRATE_BATCH rows the batch is committed and the progress shown. */
static enum store_status row_done(struct migrate *m, enum store_status status, const char *what)
{
    if (status != STORE_OK) {
        if (m->problem[0] == '\0')
            snprintf(m->problem, sizeof m->problem, "%s: %s", what, store_last_error(m->target));
        abandon_batch(m);
        return status;
    }
    if (++m->in_batch < m->batch_rows)
        return STORE_OK;
    status = finish_batch(m);
    if (status != STORE_OK)
        return status;
    printf("migrate: %lld of %lld responses, %lld of %lld idempotency records, %lld of %lld invitations, %lld of %lld"
           " webhook deliveries, %lld of %lld webhook events\n",
           (long long)m->copied.responses, (long long)m->expected.responses, (long long)m->copied.records,
           (long long)m->expected.records, (long long)m->copied.invitations, (long long)m->expected.invitations,
           (long long)m->copied.deliveries, (long long)m->expected.deliveries, (long long)m->copied.events,
           (long long)m->expected.events);
    fflush(stdout);
    return start_batch(m);
}

static enum store_status copy_survey(const struct store_survey_row *row, void *arg)
{
    struct migrate *m = arg;

    if (!keep_survey(m, row))
        return row_done(m, STORE_ERROR, "");
    enum store_status status = store_import_survey(m->target, row);
    if (status == STORE_OK)
        m->copied.surveys++;
    return row_done(m, status, "storing a survey");
}

static enum store_status copy_response(const struct store_stored_response *row, void *arg)
{
    struct migrate *m = arg;
    const struct survey *survey = find_survey(m, row->row.survey);

    if (survey == NULL) {
        snprintf(m->problem, sizeof m->problem, "response %s: its survey %s was not copied", row->row.id,
                 row->row.survey);
        return row_done(m, STORE_ERROR, "");
    }
    enum store_status status = store_import_response(m->target, survey, row);
    if (status == STORE_OK)
        m->copied.responses++;
    else if (m->problem[0] == '\0')
        snprintf(m->problem, sizeof m->problem, "response %s: %s", row->row.id, store_last_error(m->target));
    return row_done(m, status, "");
}

static enum store_status copy_record(const struct store_idempotency_record *record, void *arg)
{
    struct migrate *m = arg;
    enum store_status status = store_import_idempotency(m->target, record);

    if (status == STORE_OK)
        m->copied.records++;
    return row_done(m, status, "storing an idempotency record");
}

/* An invitation keeps its id, times and token hash: the links already sent open the copy's page. */
static enum store_status copy_invitation(const struct store_invitation_row *row, void *arg)
{
    struct migrate *m = arg;
    enum store_status status = store_import_invitation(m->target, row);

    if (status == STORE_OK)
        m->copied.invitations++;
    else if (m->problem[0] == '\0')
        snprintf(m->problem, sizeof m->problem, "invitation %s: %s", row->id, store_last_error(m->target));
    return row_done(m, status, "");
}

/* A subscription keeps its id and secrets: receivers go on verifying the copy's signatures. */
static enum store_status copy_webhook(const struct store_webhook_row *row, void *arg)
{
    struct migrate *m = arg;
    enum store_status status = store_import_webhook(m->target, row);

    if (status == STORE_OK)
        m->copied.webhooks++;
    else if (m->problem[0] == '\0')
        snprintf(m->problem, sizeof m->problem, "webhook %s: %s", row->id,
                 status == STORE_CONFLICT ? "the target already has it" : store_last_error(m->target));
    return row_done(m, status, "");
}

/* A delivery keeps its ids, state and history: the outbox goes on where the source left it (what
 * was SENDING there is taken over once its lease runs out), and receivers de-duplicate on the same
 * event ids. The dump gives them in seq order, so the copy's claims keep the order. */
static enum store_status copy_delivery(const struct store_delivery_row *row, void *arg)
{
    struct migrate *m = arg;
    enum store_status status = store_import_delivery(m->target, row);

    if (status == STORE_OK)
        m->copied.deliveries++;
    else if (m->problem[0] == '\0')
        snprintf(m->problem, sizeof m->problem, "webhook delivery %s: %s", row->id, store_last_error(m->target));
    return row_done(m, status, "");
}

/* A logged event keeps its seq and id: the subscriptions' cursors (copied with them) point into
 * the same order, and the copy's sender prepares what the source had not yet prepared. */
static enum store_status copy_event(const struct store_event_row *row, void *arg)
{
    struct migrate *m = arg;
    enum store_status status = store_import_event(m->target, row);

    if (status == STORE_OK)
        m->copied.events++;
    else if (m->problem[0] == '\0')
        snprintf(m->problem, sizeof m->problem, "webhook event %s: %s", row->id, store_last_error(m->target));
    return row_done(m, status, "");
}

/* A topic keeps its id, title, query and times; the copy tags its own responses, so the
 * responses streamed so far are stored first (the batch ends here). */
static enum store_status copy_topic(const struct store_topic_row *row, void *arg)
{
    struct migrate *m = arg;
    if (m->in_batch > 0) {
        enum store_status ended = finish_batch(m);
        if (ended != STORE_OK || (ended = start_batch(m)) != STORE_OK)
            return ended;
    }
    enum store_status status;
    if ((status = store_import_topic(m->target, row)) == STORE_OK)
        m->copied.topics++;
    else if (m->problem[0] == '\0')
        snprintf(m->problem, sizeof m->problem, "topic %s of survey %s: %s", row->id, row->survey,
                 status == STORE_CONFLICT ? "the target already has it" : store_last_error(m->target));
    return row_done(m, status, "");
}

static const struct store_dump_sink copy_sink = {
    .begin = begin_copy,
    .survey = copy_survey,
    .response = copy_response,
    .record = copy_record,
    .invitation = copy_invitation,
    .webhook = copy_webhook,
    .delivery = copy_delivery,
    .event = copy_event,
    .topic = copy_topic,
};

/* "DIR" means the SQLite store in DIR; a location with a scheme is taken as it is. */
static char *source_location(const char *from)
{
    char *location;

    if (store_backend_name(from) != NULL)
        return strdup(from);
    if (asprintf(&location, "sqlite:%s", from) < 0)
        return NULL;
    return location;
}

static bool same_counts(const struct store_dump_counts *a, const struct store_dump_counts *b)
{
    return a->surveys == b->surveys && a->responses == b->responses && a->records == b->records &&
           a->invitations == b->invitations && a->webhooks == b->webhooks && a->deliveries == b->deliveries &&
           a->events == b->events && a->topics == b->topics;
}

static int report(const struct migrate *m, enum store_status status, const char *err)
{
    if (m->refused) {
        fprintf(stderr, "surveyd migrate: the target already holds surveys: migrate copies into an empty store "
                        "only (create a new database for it)\n");
        return 2;
    }
    if (status == STORE_OK && same_counts(&m->copied, &m->expected)) {
        printf("migrate: copied %lld surveys, %lld responses, %lld idempotency records, %lld invitations, %lld"
               " webhooks, %lld webhook deliveries, %lld webhook events, %lld topics\n",
               (long long)m->copied.surveys, (long long)m->copied.responses, (long long)m->copied.records,
               (long long)m->copied.invitations, (long long)m->copied.webhooks, (long long)m->copied.deliveries,
               (long long)m->copied.events, (long long)m->copied.topics);
        return 0;
    }
    fprintf(stderr, "surveyd migrate: %s\n", m->problem[0] ? m->problem : err[0] ? err : "the copy failed");
    fprintf(stderr, "surveyd migrate: copied %lld of %lld surveys, %lld of %lld responses, %lld of %lld idempotency "
                    "records, %lld of %lld invitations, %lld of %lld webhooks, %lld of %lld webhook deliveries, %lld of "
                    "%lld webhook events, %lld of %lld topics; the target holds a partial copy: drop and recreate it before migrating "
                    "again\n",
            (long long)m->copied.surveys, (long long)m->expected.surveys, (long long)m->copied.responses,
            (long long)m->expected.responses, (long long)m->copied.records, (long long)m->expected.records,
            (long long)m->copied.invitations, (long long)m->expected.invitations, (long long)m->copied.webhooks,
            (long long)m->expected.webhooks, (long long)m->copied.deliveries, (long long)m->expected.deliveries,
            (long long)m->copied.events, (long long)m->expected.events, (long long)m->copied.topics,
            (long long)m->expected.topics);
    return 1;
}

int migrate_run(const struct config *config)
{
    char err[512] = "", *from = NULL;
    struct store *source = NULL, *target = NULL;
    struct migrate m = {0};
    int exit_code = 2;

    if (config->migrate_from == NULL || config->migrate_to == NULL) {
        fprintf(stderr, "surveyd migrate: give both stores: surveyd migrate --from DATA_DIR --to postgresql://...\n");
        return 2;
    }
    from = source_location(config->migrate_from);
    if (from == NULL || store_backend_name(config->migrate_to) == NULL) {
        fprintf(stderr, "surveyd migrate: --to must be a database location (postgresql://...)\n");
        goto done;
    }
    struct store_options source_options = {from, config->durability, config->text_language};
    source = store_open_read_only(&source_options, err, sizeof err);
    if (source == NULL) {
        fprintf(stderr, "surveyd migrate: the source: %s\n", err);
        goto done;
    }
    struct store_options target_options = {config->migrate_to, STORE_DURABILITY_FULL, config->text_language};
    target = store_open(&target_options, err, sizeof err);
    if (target == NULL) {
        fprintf(stderr, "surveyd migrate: the target: %s\n", err);
        goto done;
    }
    m.target = store_writer(target);
    /* Rows per target transaction (--batch, default 2000): enough that the commits (each a durable
     * flush) are not what the copy waits on, few enough that one transaction's rollup cells, locks
     * and WAL stay modest on a database that may already serve. */
    m.batch_rows = config->migrate_batch ? config->migrate_batch : 2000;
    enum store_status status = store_dump(source, &copy_sink, &m, err, sizeof err);
    if (status == STORE_OK && m.in_batch > 0)
        status = finish_batch(&m);
    abandon_batch(&m); /* after a failure, or a last batch that holds nothing */
    exit_code = report(&m, status, err);
done:
    for (size_t i = 0; i < m.survey_count; i++)
        survey_free(&m.surveys[i]);
    free(m.surveys);
    if (target != NULL)
        store_close(target);
    if (source != NULL)
        store_close(source);
    free(from);
    return exit_code;
}
