#include "response_text.h"

#include <stdlib.h>
#include <string.h>

#include "text_buffer.h"

static void append_part(struct text_buffer *doc, bool *any, const char *text)
{
    if (text == NULL || text[0] == '\0')
        return;
    if (*any)
        text_buffer_append(doc, "\n", 1);
    text_buffer_put(doc, text);
    *any = true;
}

/* Both forms end here: nothing appended is "no text", a failed append is out of memory. */
static bool finish(struct text_buffer *doc, bool any, char **out, size_t *len)
{
    *out = NULL;
    if (len != NULL)
        *len = 0;
    if (!any)
        return true;
    *out = text_buffer_finish(doc, len);
    return *out != NULL;
}

bool response_text(const struct survey *survey, const struct response *response, char **out, size_t *len)
{
    struct text_buffer doc = {0};
    bool any = false;
    /* validate_response keeps answers in the definition's order, the order they are stored in. */
    for (int a = 0; a < response->answer_count; a++)
        append_part(&doc, &any, response->answers[a].text);
    return finish(&doc, any, out, len);
}

static const char *stored_text_of(const struct question *q, const cJSON *value)
{
    if (q->type == QUESTION_TEXT && cJSON_IsString(value))
        return value->valuestring;
    if (q->type == QUESTION_CHOICE && cJSON_IsObject(value)) {
        const cJSON *other = cJSON_GetObjectItemCaseSensitive(value, "other");
        if (cJSON_IsString(other))
            return other->valuestring;
    }
    return NULL;
}

bool response_text_stored(const struct survey *survey, const cJSON *answers, char **out, size_t *len)
{
    struct text_buffer doc = {0};
    bool any = false;
    /* In stored order, as schema/012's view reads them (json_each): the definition's order when the
     * answers were given. */
    for (const cJSON *value = answers ? answers->child : NULL; value; value = value->next) {
        const struct question *question = survey_find_question(survey, value->string, NULL);
        if (question)
            append_part(&doc, &any, stored_text_of(question, value));
    }
    return finish(&doc, any, out, len);
}
