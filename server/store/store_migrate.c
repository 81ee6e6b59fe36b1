/* Copying one store into another (surveyd migrate): the backend-neutral half.
 *
 * The source side is one backend entry (dump: every row from one snapshot). The target side needs
 * no entry of its own: a survey goes in through put_survey, a response through the backend's
 * insert_response (which stores the row alone), and an idempotency record through
 * save_idempotency, an invitation through insert_invitation, all of which already store what they
 * are given as given. What only this file
 * knows is how a response read back from a store counts in the rollups: from its stored answers'
 * JSON, not from a validated request, by the rules of the answer_facts view. */
#include "store.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h"
#include "response_text.h"

/* Responses looked at per back-fill batch while migrate imports a topic. */
#define IMPORT_BACKFILL_BATCH 10000

enum store_status store_dump(struct store *store, const struct store_dump_sink *sink, void *arg, char *err,
                             size_t err_size)
{
    if (store->backend->dump == NULL) {
        snprintf(err, err_size, "a %s store cannot be copied from (only a SQLite store can)", store->backend->name);
        return STORE_ERROR;
    }
    return store->backend->dump(store, sink, arg, err, err_size);
}

enum store_status store_import_end(struct store_conn *conn, bool keep)
{
    return conn->backend->import_end ? conn->backend->import_end(conn, keep) : STORE_OK;
}

enum store_status store_import_survey(struct store_conn *conn, const struct store_survey_row *row)
{
    bool created = false;
    /* Stored at its creation time, then replaced by itself at its update time: put_survey sets
     * created_at on insert and only updated_at on replace, so both come out as they were. */
    enum store_status status = store_import_end(conn, true);

    if (status == STORE_OK)
        status = store_put_survey(conn, row->id, row->definition, row->created_at, &created);
    if (status != STORE_OK)
        return status;
    if (!created) /* the target already had it: the caller promised an empty target */
        return STORE_CONFLICT;
    if (row->updated_at != row->created_at)
        status = store_put_survey(conn, row->id, row->definition, row->updated_at, &created);
    return status;
}

static bool number_bucket(struct store_fact *fact, int64_t value)
{
    fact->value_is_text = false;
    fact->value_text = NULL;
    fact->value = value;
    return true;
}

/* A JSON scalar as a rollup bucket value, as SQLite's json_each gives it: integers as themselves,
 * true and false as 1 and 0, strings as text. Anything else (null, a fraction, an object where no
 * object belongs) is not something a stored answer holds: false. */
static bool bucket_of_scalar(const cJSON *answer, struct store_fact *fact)
{
    if (cJSON_IsString(answer)) {
        fact->value_is_text = true;
        fact->value_text = answer->valuestring;
        return true;
    }
    if (cJSON_IsBool(answer))
        return number_bucket(fact, cJSON_IsTrue(answer) ? 1 : 0);
    if (cJSON_IsNumber(answer) && answer->valuedouble == floor(answer->valuedouble) &&
        fabs(answer->valuedouble) < 9007199254740992.0)
        return number_bucket(fact, (int64_t)answer->valuedouble);
    return false;
}

/* The bucket one stored answer counts in (schema/002_rollups.sql, answer_facts): nps, csat, ces
 * the answer; yes_no 1 for true, 0 otherwise; choice the option's text, or -1 for an "other"
 * write-in (an object); text 0. */
static bool bucket_of(enum question_type type, const cJSON *answer, struct store_fact *fact)
{
    switch (type) {
    case QUESTION_TEXT:
        return number_bucket(fact, 0);
    case QUESTION_YES_NO:
        return number_bucket(fact, cJSON_IsTrue(answer) ? 1 : 0);
    case QUESTION_CHOICE:
        if (cJSON_IsObject(answer))
            return number_bucket(fact, -1);
        return bucket_of_scalar(answer, fact);
    case QUESTION_NPS:
    case QUESTION_CSAT:
    case QUESTION_CES:
        break;
    }
    return bucket_of_scalar(answer, fact);
}

/* The response's own fact (it counts as a response) and one per answer to a question its survey
 * has; an answer to a question the definition no longer names counts nowhere, as in the view. */
static enum store_status add_stored_facts(struct store_conn *conn, const struct survey *survey,
                                          const struct store_response_row *row)
{
    struct store_fact fact = {
        .survey = row->survey,
        .channel = row->channel ? row->channel : "",
        .agent = row->agent ? row->agent : "",
        .submitted_at = row->submitted_at,
    };
    cJSON *answers = cJSON_Parse(row->answers);
    enum store_status status = STORE_OK;

    if (!cJSON_IsObject(answers)) {
        status = STORE_ERROR;
        goto done;
    }
    store_backend_add_fact(conn, &fact, +1);
    for (const cJSON *a = answers->child; a != NULL; a = a->next) {
        const struct question *q = survey_find_question(survey, a->string, NULL);
        if (q == NULL)
            continue;
        fact.question = q->id;
        if (!bucket_of(q->type, a, &fact)) {
            status = STORE_ERROR;
            goto done;
        }
        store_backend_add_fact(conn, &fact, +1);
    }
    if (conn->deltas_lost)
        status = STORE_ERROR;
done:
    cJSON_Delete(answers);
    return status;
}

/* An imported response's document to a backend that indexes it in C (backend.h index_text): the
 * target's index holds what the source's did. */
static enum store_status index_stored_text(struct store_conn *conn, const struct survey *survey,
                                           const struct store_response_row *row)
{
    if (conn->backend->index_text == NULL)
        return STORE_OK;
    cJSON *answers = cJSON_Parse(row->answers);
    char *text = NULL;
    bool ok = !cJSON_IsObject(answers) || response_text_stored(survey, answers, &text, NULL);
    cJSON_Delete(answers);
    if (!ok)
        return STORE_UNAVAILABLE; /* out of memory */
    enum store_status status = conn->backend->index_text(conn, row->id, text);
    free(text);
    return status;
}

enum store_status store_import_response(struct store_conn *conn, const struct survey *survey,
                                        const struct store_stored_response *stored)
{
    const struct store_response_row *row = &stored->row;
    struct response response = {
        .submitted_at = row->submitted_at,
        .received_at = row->received_at,
        .channel = row->channel,
        .customer = row->customer,
        .agent = row->agent,
        .interaction = row->interaction,
        .answers_json = row->answers,
        .properties_json = row->properties,
    };
    char existing_id[32];
    enum store_status status;

    if (strcmp(row->survey, survey->id) != 0 || row->answers == NULL)
        return STORE_ERROR;
    memcpy(response.id, row->id, sizeof response.id);
    memcpy(response.survey, row->survey, sizeof response.survey);
    /* The backend's insert stores the row alone (its rollups are ours): answers[] is not read. */
    if (conn->backend->import_response)
        status = conn->backend->import_response(conn, stored);
    else
        status = conn->backend->insert_response(conn, &response, stored->token.hash ? &stored->token : NULL,
                                                existing_id);
    if (status != STORE_OK)
        return status;
    if ((status = index_stored_text(conn, survey, row)) != STORE_OK)
        return status;
    return add_stored_facts(conn, survey, row);
}

enum store_status store_import_idempotency(struct store_conn *conn, const struct store_idempotency_record *record)
{
    enum store_status status = store_import_end(conn, true);

    if (status != STORE_OK)
        return status;
    return store_save_idempotency(conn, &record->request, record->status, record->reply, record->response_id,
                                  record->customer, record->created_at);
}

enum store_status store_import_invitation(struct store_conn *conn, const struct store_invitation_row *row)
{
    enum store_status status = store_import_end(conn, true);
    return status == STORE_OK ? store_insert_invitation(conn, row) : status;
}

enum store_status store_import_topic(struct store_conn *conn, const struct store_topic_row *row)
{
    struct store_topic_row copy = *row;
    bool created;
    enum store_status status = store_put_topic(conn, &copy, true, &created);
    if (status == STORE_OK && !created)
        return STORE_CONFLICT;
    /* The copy's tags are made here, in migrate's transaction, not left to a back-fill after it:
     * a daemon started on the copy then answers with every tag at once, as the source did. */
    char survey[SURVEY_ID_MAX + 1];
    bool more = status == STORE_OK;
    while (status == STORE_OK && more)
        status = store_topic_backfill(conn, IMPORT_BACKFILL_BATCH, survey, &more);
    return status;
}
