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
