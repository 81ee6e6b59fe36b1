#include "survey.h"

#include <stdlib.h>
#include <string.h>

static const char *const question_type_names[] = {
    [QUESTION_NPS] = "nps",       [QUESTION_CSAT] = "csat",     [QUESTION_CES] = "ces",
    [QUESTION_YES_NO] = "yes_no", [QUESTION_CHOICE] = "choice", [QUESTION_TEXT] = "text",
};

const char *survey_question_type_name(enum question_type type)
{
    return question_type_names[type];
}

const struct question *survey_find_question(const struct survey *survey, const char *id, int *index_out)
{
    for (int i = 0; i < survey->question_count; i++) {
        if (strcmp(survey->questions[i].id, id) == 0) {
            if (index_out)
                *index_out = i;
            return &survey->questions[i];
        }
    }
    return NULL;
}

static void free_strings(char **strings, int count)
{
    /* NULL with a count: a copy whose array could not be allocated (survey_copy frees it so). */
    if (strings == NULL)
        return;
    for (int i = 0; i < count; i++)
        free(strings[i]);
    free(strings);
}

void survey_free(struct survey *survey)
{
    if (survey == NULL)
        return;
    for (int i = 0; i < survey->question_count; i++) {
        free(survey->questions[i].text);
        free_strings(survey->questions[i].options, survey->questions[i].option_count);
    }
    free(survey->questions);
    free(survey->title);
    free_strings(survey->allowed_origins, survey->origin_count);
    memset(survey, 0, sizeof *survey);
}

static char **copy_strings(char *const *strings, int count, bool *ok)
{
    char **copy = calloc((size_t)count + 1, sizeof *copy);
    if (copy == NULL) {
        *ok = false;
        return NULL;
    }
    for (int i = 0; i < count; i++) {
        copy[i] = strdup(strings[i]);
        *ok &= copy[i] != NULL;
    }
    return copy;
}

bool survey_copy(const struct survey *src, struct survey *dst)
{
    bool ok = true;
    *dst = *src;
    dst->title = src->title ? strdup(src->title) : NULL;
    dst->allowed_origins = copy_strings(src->allowed_origins, src->origin_count, &ok);
    dst->questions = calloc((size_t)src->question_count, sizeof *dst->questions);
    ok &= dst->questions != NULL && (src->title == NULL || dst->title != NULL);
    for (int i = 0; ok && i < src->question_count; i++) {
        const struct question *q = &src->questions[i];
        dst->questions[i] = *q;
        dst->questions[i].text = q->text ? strdup(q->text) : NULL;
        /* A question without its text would be served and stored as if it had none. */
        ok &= q->text == NULL || dst->questions[i].text != NULL;
        dst->questions[i].options = q->option_count ? copy_strings(q->options, q->option_count, &ok) : NULL;
    }
    if (!ok) {
        if (dst->questions == NULL)
            dst->question_count = 0;
        survey_free(dst);
    }
    return ok;
}

void survey_response_free(struct response *response)
{
    if (response == NULL)
        return;
    for (int i = 0; i < response->answer_count; i++)
        free(response->answers[i].text);
    free(response->answers);
    free(response->channel);
    free(response->customer);
    free(response->agent);
    free(response->interaction);
    free(response->answers_json);
    free(response->properties_json);
    memset(response, 0, sizeof *response);
}

void survey_invitation_request_free(struct invitation_request *request)
{
    if (request == NULL)
        return;
    free(request->customer);
    free(request->channel);
    free(request->agent);
    free(request->interaction);
    free(request->properties_json);
    free(request->email);
    memset(request, 0, sizeof *request);
}
