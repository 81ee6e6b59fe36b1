/* Topic bodies and the detractor/promoter test; see topic_spec.h. */
#include "topic_spec.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool has_control(const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (*p < 0x20 || *p == 0x7F)
            return true;
    return false;
}

static void check_keys(const cJSON *body, struct validate_errors *errors)
{
    for (const cJSON *item = body->child; item; item = item->next) {
        bool known = strcmp(item->string, "title") == 0 || strcmp(item->string, "query") == 0;
        bool duplicate = false;
        for (const cJSON *other = body->child; other != item && !duplicate; other = other->next)
            duplicate = strcmp(other->string, item->string) == 0;
        if (known && !duplicate)
            continue;
        char field[128];
        snprintf(field, sizeof field, "%.*s", validate_utf8_cut(item->string, 100), item->string);
        validate_error(errors, field, known ? "duplicate field" : "unknown field");
    }
}

static void check_title(const cJSON *title, struct validate_errors *errors)
{
    if (!cJSON_IsString(title)) {
        validate_error(errors, "title", title ? "must be a string" : "is required");
        return;
    }
    size_t chars = validate_utf8_length(title->valuestring);
    if (chars == 0 || chars > TOPIC_TITLE_MAX)
        validate_error(errors, "title", "must be 1 to %d characters", TOPIC_TITLE_MAX);
    else if (has_control(title->valuestring))
        validate_error(errors, "title", "must not contain control characters");
}

enum topic_spec_status topic_spec_parse(const cJSON *body, struct topic_spec *out, struct validate_errors *errors,
                                        struct text_query_error *query_error)
{
    memset(out, 0, sizeof *out);
    if (!cJSON_IsObject(body)) {
        validate_error(errors, "", "the topic must be a JSON object");
        return TOPIC_SPEC_INVALID;
    }
    int before = errors->count;
    check_keys(body, errors);
    const cJSON *title = cJSON_GetObjectItemCaseSensitive(body, "title");
    const cJSON *query = cJSON_GetObjectItemCaseSensitive(body, "query");
    check_title(title, errors);
    if (!cJSON_IsString(query))
        validate_error(errors, "query", query ? "must be a string" : "is required");
    if (errors->count != before)
        return TOPIC_SPEC_INVALID;
    enum text_query_status status =
        text_query_parse(query->valuestring, strlen(query->valuestring), &out->parsed, query_error);
    if (status == TEXT_QUERY_NO_MEMORY)
        return TOPIC_SPEC_NO_MEMORY;
    if (status != TEXT_QUERY_OK)
        return TOPIC_SPEC_BAD_QUERY;
    out->title = strdup(title->valuestring);
    out->query = strdup(query->valuestring);
    if (out->title == NULL || out->query == NULL) {
        topic_spec_free(out);
        return TOPIC_SPEC_NO_MEMORY;
    }
    return TOPIC_SPEC_OK;
}

void topic_spec_free(struct topic_spec *spec)
{
    free(spec->title);
    free(spec->query);
    text_query_free(spec->parsed);
    memset(spec, 0, sizeof *spec);
}

bool topic_z_test(int64_t k1, int64_t n1, int64_t k2, int64_t n2, double *z, double *p_value)
{
    if (n1 <= 0 || n2 <= 0 || k1 < 0 || k2 < 0 || k1 > n1 || k2 > n2)
        return false;
    double pooled = (double)(k1 + k2) / (double)(n1 + n2);
    if (pooled <= 0.0 || pooled >= 1.0)
        return false;
    double se = sqrt(pooled * (1.0 - pooled) * (1.0 / (double)n1 + 1.0 / (double)n2));
    *z = ((double)k1 / (double)n1 - (double)k2 / (double)n2) / se;
    *p_value = erfc(fabs(*z) / sqrt(2.0));
    return true;
}
