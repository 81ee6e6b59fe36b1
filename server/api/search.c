#include "search.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "oom.h"

/* A snippet holds at most this many code points, "…" included. */
#define SNIPPET_CHARS 200

static void reply_bad_query(struct http_request *req, enum text_query_status status,
                            const struct text_query_error *error)
{
    if (status == TEXT_QUERY_NO_MEMORY) {
        api_reply_store_error(req, STORE_ERROR);
        return;
    }
    cJSON *extra = cJSON_CreateObject();
    cJSON_AddStringToObject(extra, "parameter", "q");
    cJSON_AddNumberToObject(extra, "position", (double)error->position);
    char detail[224];
    snprintf(detail, sizeof detail, "q: %s (at character %zu)", error->message, error->position);
    http_reply_problem(req, 422, error->code, detail, extra);
}

bool search_prepare(struct http_request *req, const struct query *query, struct store_list_query *list,
                    struct text_query **out)
{
    *out = NULL;
    if (query->text == NULL)
        return true;
    if (!store_can_search(api_app(req)->store)) {
        http_reply_problem(req, 501, "search_unavailable",
                           "full-text search (q=) is not available on this storage backend yet (docs/search.md)", NULL);
        return false;
    }
    struct text_query_error error = {0};
    enum text_query_status status = text_query_parse(query->text, strlen(query->text), out, &error);
    if (status != TEXT_QUERY_OK) {
        reply_bad_query(req, status, &error);
        return false;
    }
    if (!text_query_stem(*out, api_app(req)->text_language)) {
        api_reply_store_error(req, STORE_ERROR); /* out of memory */
        return false;
    }
    list->text = *out;
    list->order = query->sort_relevance ? STORE_ORDER_RELEVANCE : STORE_ORDER_NEWEST;
    list->offset = query->has_offset_cursor ? query->cursor_offset : 0;
    return true;
}

/* The searchable text of one stored answer: a text question's string, a choice's write-in. */
static const char *answer_text(const struct question *question, const cJSON *value)
{
    if (question->type == QUESTION_TEXT && cJSON_IsString(value))
        return value->valuestring;
    if (question->type == QUESTION_CHOICE && cJSON_IsObject(value)) {
        const cJSON *other = cJSON_GetObjectItemCaseSensitive(value, "other");
        if (cJSON_IsString(other))
            return other->valuestring;
    }
    return NULL;
}

static cJSON *render_snippet(const char *question, const struct text_query_snippet *snippet)
{
    cJSON *out = cJSON_CreateObject();
    cJSON *matches = cJSON_CreateArray();
    cJSON_AddStringToObject(out, "question", question);
    cJSON_AddStringToObject(out, "text", snippet->text);
    for (size_t i = 0; i < snippet->nmatches; i++) {
        cJSON *m = cJSON_CreateObject();
        cJSON_AddNumberToObject(m, "start", (double)snippet->matches[i].char_start);
        cJSON_AddNumberToObject(m, "length", (double)snippet->matches[i].char_length);
        oom_append_item(matches, m);
    }
    oom_add_item(out, "matches", matches);
    return out;
}

/* Appends the snippet of one answer's text when it holds a match; false when out of memory. */
static bool add_snippet(cJSON *list, const struct text_query *text, const char *question, const char *answer)
{
    struct text_query_match *matches = NULL;
    size_t count = 0;
    size_t len = strlen(answer);
    if (!text_query_matches(text, answer, len, &matches, &count))
        return false;
    bool ok = true;
    if (count > 0) {
        struct text_query_snippet snippet = {0};
        ok = text_query_snippet(answer, len, matches, count, SNIPPET_CHARS, &snippet);
        if (ok)
            ok = oom_append_item(list, render_snippet(question, &snippet));
        text_query_snippet_free(&snippet);
    }
    free(matches);
    return ok;
}

cJSON *search_snippets(const struct text_query *text, const struct survey *survey, const char *answers_json)
{
    cJSON *answers = cJSON_Parse(answers_json);
    cJSON *list = cJSON_CreateArray();
    if (answers == NULL || list == NULL)
        goto fail;
    /* Stored answers are in the definition's order: the snippets follow the document's order. */
    for (const cJSON *value = answers->child; value; value = value->next) {
        const struct question *question = survey_find_question(survey, value->string, NULL);
        const char *answer = question ? answer_text(question, value) : NULL;
        if (answer && !add_snippet(list, text, value->string, answer))
            goto fail;
    }
    cJSON_Delete(answers);
    return list;
fail:
    cJSON_Delete(answers);
    cJSON_Delete(list);
    return NULL;
}
