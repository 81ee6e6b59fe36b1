#include "validate.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ids.h"
#include "oom.h"
#include "timefmt.h"

#define TITLE_MAX 200
#define PROMPT_MAX 1000
#define OPTION_MAX 200
#define OTHER_TEXT_MAX 2000
#define TEXT_DEFAULT_MAX 2000
#define TEXT_LIMIT 10000
#define ORIGIN_MAX 255
#define ORIGINS_MAX 50
#define OPAQUE_MAX 128
#define CHANNEL_MAX 32
#define PROPERTIES_MAX 20
#define PROPERTY_KEY_MAX 64
#define PROPERTY_VALUE_MAX 256
#define FUTURE_SKEW_MS (5 * 60 * 1000)
#define CHOICE_LISTED 10 /* options named in a wrong choice's message */

void validate_errors_init(struct validate_errors *errors)
{
    errors->list = NULL;
    errors->count = 0;
}

void validate_errors_free(struct validate_errors *errors)
{
    cJSON_Delete(errors->list);
    validate_errors_init(errors);
}

/* The message is copied whole: callers that build long ones (a choice's options) must not be cut
 * in the middle of a UTF-8 character. */
static void add_error(struct validate_errors *errors, const char *field, const char *message)
{
    if (errors->list == NULL)
        errors->list = cJSON_CreateArray();
    cJSON *item = cJSON_CreateObject();
    cJSON_AddStringToObject(item, "field", field);
    cJSON_AddStringToObject(item, "message", message);
    oom_append_item(errors->list, item);
    errors->count++;
}

void validate_error(struct validate_errors *errors, const char *field, const char *fmt, ...)
{
    char message[256];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(message, sizeof message, fmt, ap);
    va_end(ap);
    add_error(errors, field, message);
}

size_t validate_utf8_length(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        n += ((unsigned char)*s & 0xC0) != 0x80;
    return n;
}

int validate_utf8_cut(const char *s, size_t max)
{
    size_t len = strnlen(s, max + 1);
    if (len <= max)
        return (int)len;
    len = max;
    while (len > 0 && ((unsigned char)s[len] & 0xC0) == 0x80)
        len--; /* s[len] continues a character that started before the cut */
    return (int)len;
}

/* A field path for messages, e.g. "questions[2].scale" or "answers.nps". Truncated (never
 * overflowing) for absurd keys: it is only ever shown to the client. */
static const char *field_path(char *buf, size_t size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static const char *field_path(char *buf, size_t size, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, size, fmt, ap);
    va_end(ap);
    return buf;
}

/* An integral JSON number in [min, max]. */
static bool json_integer(const cJSON *item, int64_t min, int64_t max, int64_t *out)
{
    if (!cJSON_IsNumber(item))
        return false;
    double v = item->valuedouble;
    if (!isfinite(v) || v != floor(v) || v < (double)min || v > (double)max)
        return false;
    *out = (int64_t)v;
    return true;
}

/* A failed allocation must not drop a field silently: validation fails, and the failure is noted so
 * that the request (or writer job) answers 500, not 422 (oom.h). */
static bool allocated(const void *p, struct validate_errors *errors)
{
    if (p != NULL)
        return true;
    oom_note();
    validate_error(errors, "", "out of memory");
    return false;
}

static char *noted_strdup(const char *s, struct validate_errors *errors)
{
    char *copy = strdup(s);
    allocated(copy, errors);
    return copy;
}

static char *dup_string(const char *s, struct validate_errors *errors)
{
    return s ? noted_strdup(s, errors) : NULL;
}

/* A string of 1..max code points; reports on errors and returns NULL when it is not. */
static const char *bounded_string(const cJSON *item, size_t max, const char *field, struct validate_errors *errors)
{
    if (item == NULL) {
        validate_error(errors, field, "is required");
        return NULL;
    }
    if (!cJSON_IsString(item)) {
        validate_error(errors, field, "must be a string");
        return NULL;
    }
    size_t len = validate_utf8_length(item->valuestring);
    if (len == 0 || len > max) {
        validate_error(errors, field, "must be 1 to %zu characters", max);
        return NULL;
    }
    return item->valuestring;
}

/* Duplicate keys are valid JSON but ambiguous; cJSON would silently take the first. */
static bool has_duplicate_key(const cJSON *object, const cJSON *item)
{
    for (const cJSON *other = object->child; other != item; other = other->next) {
        if (strcmp(other->string, item->string) == 0)
            return true;
    }
    return false;
}

static bool key_in(const char *key, const char *const *allowed)
{
    for (; *allowed; allowed++) {
        if (strcmp(key, *allowed) == 0)
            return true;
    }
    return false;
}

/* Reports unknown and duplicate keys of an object. */
static void check_keys(const cJSON *object, const char *const *allowed, const char *prefix,
                       struct validate_errors *errors)
{
    char field[160];
    for (const cJSON *item = object->child; item; item = item->next) {
        bool unknown = !key_in(item->string, allowed);
        if (!unknown && !has_duplicate_key(object, item))
            continue;
        field_path(field, sizeof field, "%s%.*s", prefix, validate_utf8_cut(item->string, 100), item->string);
        validate_error(errors, field, unknown ? "unknown field" : "duplicate field");
    }
}

/* ---- definitions ---- */

static bool parse_question_type(const char *name, enum question_type *out)
{
    for (int t = QUESTION_NPS; t <= QUESTION_TEXT; t++) {
        if (strcmp(name, survey_question_type_name((enum question_type)t)) == 0) {
            *out = (enum question_type)t;
            return true;
        }
    }
    return false;
}

static bool csat_scale_valid(int64_t scale)
{
    return scale == 2 || scale == 3 || scale == 4 || scale == 5 || scale == 6 || scale == 7 || scale == 10;
}

static void parse_scale(const cJSON *qjson, struct question *q, const char *prefix, struct validate_errors *errors)
{
    char field[160];
    const cJSON *scale = cJSON_GetObjectItemCaseSensitive(qjson, "scale");
    int64_t value;

    q->scale = q->type == QUESTION_CSAT ? 5 : 7;
    if (scale == NULL)
        return;
    field_path(field, sizeof field, "%sscale", prefix);
    if (q->type == QUESTION_CSAT) {
        if (!json_integer(scale, 2, 10, &value) || !csat_scale_valid(value))
            validate_error(errors, field, "must be one of 2, 3, 4, 5, 6, 7, 10");
        else
            q->scale = (int)value;
    } else {
        if (!json_integer(scale, 5, 7, &value) || (value != 5 && value != 7))
            validate_error(errors, field, "must be 5 or 7");
        else
            q->scale = (int)value;
    }
}

static void parse_options(const cJSON *qjson, struct question *q, const char *prefix, struct validate_errors *errors)
{
    char field[160];
    const cJSON *options = cJSON_GetObjectItemCaseSensitive(qjson, "options");
    const cJSON *allow_other = cJSON_GetObjectItemCaseSensitive(qjson, "allow_other");

    if (allow_other != NULL) {
        if (!cJSON_IsBool(allow_other))
            validate_error(errors, field_path(field, sizeof field, "%sallow_other", prefix), "must be true or false");
        q->allow_other = cJSON_IsTrue(allow_other);
    }
    field_path(field, sizeof field, "%soptions", prefix);
    int count = cJSON_GetArraySize(options);
    if (options == NULL) {
        validate_error(errors, field, "is required");
        return;
    }
    if (!cJSON_IsArray(options) || count < 1 || count > SURVEY_MAX_OPTIONS) {
        validate_error(errors, field, "must be an array of 1 to %d strings", SURVEY_MAX_OPTIONS);
        return;
    }
    q->options = calloc((size_t)count, sizeof *q->options);
    if (!allocated(q->options, errors))
        return;
    int i = 0;
    for (const cJSON *opt = options->child; opt; opt = opt->next, i++) {
        field_path(field, sizeof field, "%soptions[%d]", prefix, i);
        const char *text = bounded_string(opt, OPTION_MAX, field, errors);
        if (text == NULL)
            continue;
        bool duplicate = false;
        for (int j = 0; j < q->option_count; j++)
            duplicate |= strcmp(q->options[j], text) == 0;
        if (duplicate)
            validate_error(errors, field, "duplicate option");
        else
            if ((q->options[q->option_count] = noted_strdup(text, errors)) != NULL)
                q->option_count++;
    }
}

static void parse_max_length(const cJSON *qjson, struct question *q, const char *prefix,
                             struct validate_errors *errors)
{
    char field[160];
    const cJSON *max_length = cJSON_GetObjectItemCaseSensitive(qjson, "max_length");
    int64_t value;

    q->max_length = TEXT_DEFAULT_MAX;
    if (max_length == NULL)
        return;
    if (!json_integer(max_length, 1, TEXT_LIMIT, &value))
        validate_error(errors, field_path(field, sizeof field, "%smax_length", prefix),
                       "must be an integer from 1 to %d", TEXT_LIMIT);
    else
        q->max_length = (int)value;
}

/* Keys each question type may carry: type-specific keys on another type are mistakes worth
 * reporting (a "scale" on an nps question would silently mean nothing). */
static const char *const *question_keys(enum question_type type)
{
    static const char *const plain[] = {"id", "type", "text", "required", NULL};
    static const char *const scaled[] = {"id", "type", "text", "required", "scale", NULL};
    static const char *const choice[] = {"id", "type", "text", "required", "options", "allow_other", NULL};
    static const char *const text[] = {"id", "type", "text", "required", "max_length", NULL};
    switch (type) {
    case QUESTION_CSAT:
    case QUESTION_CES:
        return scaled;
    case QUESTION_CHOICE:
        return choice;
    case QUESTION_TEXT:
        return text;
    default:
        return plain;
    }
}

static void parse_question(const cJSON *qjson, int index, struct question *q, struct validate_errors *errors)
{
    char prefix[48], field[160];

    snprintf(prefix, sizeof prefix, "questions[%d].", index);
    if (!cJSON_IsObject(qjson)) {
        validate_error(errors, field_path(field, sizeof field, "questions[%d]", index), "must be an object");
        return;
    }
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(qjson, "id");
    if (id == NULL)
        validate_error(errors, field_path(field, sizeof field, "%sid", prefix), "is required");
    else if (!cJSON_IsString(id) || !ids_valid_slug(id->valuestring))
        validate_error(errors, field_path(field, sizeof field, "%sid", prefix),
                       "must be 1-64 characters of a-z, 0-9, '_' and '-', starting with a letter or digit");
    else
        snprintf(q->id, sizeof q->id, "%s", id->valuestring);

    const cJSON *type = cJSON_GetObjectItemCaseSensitive(qjson, "type");
    if (type == NULL) {
        validate_error(errors, field_path(field, sizeof field, "%stype", prefix), "is required");
        return;
    }
    if (!cJSON_IsString(type) || !parse_question_type(type->valuestring, &q->type)) {
        validate_error(errors, field_path(field, sizeof field, "%stype", prefix),
                       "must be one of nps, csat, ces, yes_no, choice, text");
        return;
    }
    check_keys(qjson, question_keys(q->type), prefix, errors);

    const cJSON *text = cJSON_GetObjectItemCaseSensitive(qjson, "text");
    if (text != NULL) {
        const char *prompt = bounded_string(text, PROMPT_MAX, field_path(field, sizeof field, "%stext", prefix), errors);
        q->text = dup_string(prompt, errors);
    }
    const cJSON *required = cJSON_GetObjectItemCaseSensitive(qjson, "required");
    if (required != NULL && !cJSON_IsBool(required))
        validate_error(errors, field_path(field, sizeof field, "%srequired", prefix), "must be true or false");
    q->required = cJSON_IsTrue(required);

    switch (q->type) {
    case QUESTION_NPS:
        q->scale = 10;
        break;
    case QUESTION_CSAT:
    case QUESTION_CES:
        parse_scale(qjson, q, prefix, errors);
        break;
    case QUESTION_CHOICE:
        parse_options(qjson, q, prefix, errors);
        break;
    case QUESTION_TEXT:
        parse_max_length(qjson, q, prefix, errors);
        break;
    case QUESTION_YES_NO:
        break;
    }
}

/* An origin as browsers send it: scheme://host[:port], nothing after. */
static bool origin_valid(const char *origin)
{
    const char *host;
    if (strncmp(origin, "https://", 8) == 0)
        host = origin + 8;
    else if (strncmp(origin, "http://", 7) == 0)
        host = origin + 7;
    else
        return false;
    if (*host == '\0')
        return false;
    for (const char *p = host; *p; p++) {
        unsigned char c = (unsigned char)*p;
        if (c == '/' || c == '?' || c == '#' || c == '@' || c <= ' ' || c >= 0x7f)
            return false;
    }
    return true;
}

static void parse_origins(const cJSON *origins, struct survey *out, struct validate_errors *errors)
{
    char field[64];
    int count = cJSON_GetArraySize(origins);

    if (!cJSON_IsArray(origins) || count > ORIGINS_MAX) {
        validate_error(errors, "allowed_origins", "must be an array of at most %d origins", ORIGINS_MAX);
        return;
    }
    out->allowed_origins = calloc((size_t)count + 1, sizeof *out->allowed_origins);
    if (!allocated(out->allowed_origins, errors))
        return;
    int i = 0;
    for (const cJSON *o = origins->child; o; o = o->next, i++) {
        field_path(field, sizeof field, "allowed_origins[%d]", i);
        if (!cJSON_IsString(o) || strlen(o->valuestring) > ORIGIN_MAX || !origin_valid(o->valuestring))
            validate_error(errors, field, "must be an origin such as https://www.example.com (no path)");
        else
            if ((out->allowed_origins[out->origin_count] = noted_strdup(o->valuestring, errors)) != NULL)
                out->origin_count++;
    }
}

static void parse_questions(const cJSON *questions, struct survey *out, struct validate_errors *errors)
{
    char field[160];
    int count = cJSON_GetArraySize(questions);

    if (questions == NULL) {
        validate_error(errors, "questions", "is required");
        return;
    }
    if (!cJSON_IsArray(questions) || count < 1 || count > SURVEY_MAX_QUESTIONS) {
        validate_error(errors, "questions", "must be an array of 1 to %d questions", SURVEY_MAX_QUESTIONS);
        return;
    }
    out->questions = calloc((size_t)count, sizeof *out->questions);
    if (!allocated(out->questions, errors))
        return;
    out->question_count = count;
    int i = 0;
    for (const cJSON *q = questions->child; q; q = q->next, i++) {
        parse_question(q, i, &out->questions[i], errors);
        for (int j = 0; j < i && out->questions[i].id[0]; j++) {
            if (strcmp(out->questions[j].id, out->questions[i].id) == 0) {
                validate_error(errors, field_path(field, sizeof field, "questions[%d].id", i),
                               "duplicate question id '%s'", out->questions[i].id);
                break; /* once per duplicate, however many came before */
            }
        }
    }
}

/* throttle_days: absent or null leaves the daemon's --throttle-days in force, so that changing the
 * default reaches every survey that never chose; sample_rate: any number in [0, 1], 1 by default. */
static void parse_invitation_policy(const cJSON *body, struct survey *out, struct validate_errors *errors)
{
    const cJSON *throttle = cJSON_GetObjectItemCaseSensitive(body, "throttle_days");
    const cJSON *rate = cJSON_GetObjectItemCaseSensitive(body, "sample_rate");
    int64_t days;

    out->throttle_days = SURVEY_THROTTLE_DEFAULT;
    if (throttle != NULL && !cJSON_IsNull(throttle)) {
        if (json_integer(throttle, 0, SURVEY_THROTTLE_MAX, &days))
            out->throttle_days = (int)days;
        else
            validate_error(errors, "throttle_days",
                           "must be an integer from 0 to %d (days), or null for the server's default",
                           SURVEY_THROTTLE_MAX);
    }
    out->sample_rate = 1.0;
    if (rate != NULL) {
        if (cJSON_IsNumber(rate) && isfinite(rate->valuedouble) && rate->valuedouble >= 0 && rate->valuedouble <= 1)
            out->sample_rate = rate->valuedouble == 0 ? 0.0 : rate->valuedouble; /* -0 is 0 */
        else
            validate_error(errors, "sample_rate", "must be a number from 0 to 1 (the share of customers invited)");
    }
}

bool validate_definition(const char *id, const cJSON *body, struct survey *out, struct validate_errors *errors)
{
    /* id, created_at and updated_at are what GET adds: accepting them lets a client PUT back what it
     * read. The timestamps are ignored; the id must match the URL. */
    static const char *const keys[] = {"title", "public", "allowed_origins", "questions", "throttle_days",
                                       "sample_rate", "id", "created_at", "updated_at", NULL};
    int errors_before = errors->count;

    memset(out, 0, sizeof *out);
    snprintf(out->id, sizeof out->id, "%s", id);
    if (!cJSON_IsObject(body)) {
        validate_error(errors, "", "the definition must be a JSON object");
        return false;
    }
    check_keys(body, keys, "", errors);

    const cJSON *echoed_id = cJSON_GetObjectItemCaseSensitive(body, "id");
    if (echoed_id != NULL && (!cJSON_IsString(echoed_id) || strcmp(echoed_id->valuestring, id) != 0))
        validate_error(errors, "id", "must match the survey id in the URL");
    out->title = dup_string(bounded_string(cJSON_GetObjectItemCaseSensitive(body, "title"), TITLE_MAX, "title", errors), errors);

    const cJSON *is_public = cJSON_GetObjectItemCaseSensitive(body, "public");
    if (is_public != NULL && !cJSON_IsBool(is_public))
        validate_error(errors, "public", "must be true or false");
    out->is_public = cJSON_IsTrue(is_public);

    const cJSON *origins = cJSON_GetObjectItemCaseSensitive(body, "allowed_origins");
    if (origins != NULL && !cJSON_IsNull(origins))
        parse_origins(origins, out, errors);
    parse_questions(cJSON_GetObjectItemCaseSensitive(body, "questions"), out, errors);
    parse_invitation_policy(body, out, errors);

    if (errors->count > errors_before) {
        survey_free(out);
        return false;
    }
    return true;
}

static cJSON *question_to_json(const struct question *q)
{
    cJSON *json = cJSON_CreateObject();
    cJSON_AddStringToObject(json, "id", q->id);
    cJSON_AddStringToObject(json, "type", survey_question_type_name(q->type));
    if (q->text)
        cJSON_AddStringToObject(json, "text", q->text);
    cJSON_AddBoolToObject(json, "required", q->required);
    switch (q->type) {
    case QUESTION_CSAT:
    case QUESTION_CES:
        cJSON_AddNumberToObject(json, "scale", q->scale);
        break;
    case QUESTION_CHOICE:
        oom_add_item(json, "options", cJSON_CreateStringArray((const char *const *)q->options, q->option_count));
        cJSON_AddBoolToObject(json, "allow_other", q->allow_other);
        break;
    case QUESTION_TEXT:
        cJSON_AddNumberToObject(json, "max_length", q->max_length);
        break;
    default:
        break;
    }
    return json;
}

cJSON *validate_definition_to_json(const struct survey *survey)
{
    cJSON *json = cJSON_CreateObject();
    cJSON_AddStringToObject(json, "title", survey->title);
    cJSON_AddBoolToObject(json, "public", survey->is_public);
    cJSON *origins = cJSON_AddArrayToObject(json, "allowed_origins");
    for (int i = 0; i < survey->origin_count; i++)
        oom_append_item(origins, cJSON_CreateString(survey->allowed_origins[i]));
    cJSON *questions = cJSON_AddArrayToObject(json, "questions");
    for (int i = 0; i < survey->question_count; i++)
        oom_append_item(questions, question_to_json(&survey->questions[i]));
    /* throttle_days only when chosen: absent is what says "the server's default". */
    if (survey->throttle_days != SURVEY_THROTTLE_DEFAULT)
        cJSON_AddNumberToObject(json, "throttle_days", survey->throttle_days);
    cJSON_AddNumberToObject(json, "sample_rate", survey->sample_rate);
    return json;
}

/* ---- responses ---- */

/* Validates one non-null answer value; on success fills *answer and returns the JSON to store. */
/* "answers.<id>", built only when an error is reported: the common, valid path formats nothing. */
static const char *answer_field(char *buf, size_t size, const struct question *q)
{
    return field_path(buf, size, "answers.%s", q->id);
}

/* Names the options (the first CHOICE_LISTED of them) and says whether a write-in is allowed, so
 * the caller can correct a near miss ("Met" for "met") without reading the definition. */
static void choice_error(struct validate_errors *errors, const char *field, const struct question *q)
{
    int listed = q->option_count < CHOICE_LISTED ? q->option_count : CHOICE_LISTED;
    size_t size = 160;
    for (int i = 0; i < listed; i++)
        size += strlen(q->options[i]) + 4;
    char *message = malloc(size);
    if (message == NULL)
        return;
    size_t len = 0;
    if (listed < q->option_count)
        len += (size_t)snprintf(message + len, size - len, "must be one of the %d options: ", q->option_count);
    else
        len += (size_t)snprintf(message + len, size - len, "must be one of the options: ");
    for (int i = 0; i < listed; i++)
        len += (size_t)snprintf(message + len, size - len, "%s\"%s\"", i ? ", " : "", q->options[i]);
    if (listed < q->option_count)
        len += (size_t)snprintf(message + len, size - len, " and %d more", q->option_count - listed);
    snprintf(message + len, size - len, "%s",
             q->allow_other ? "; or a write-in as {\"other\": \"text\"}" : "; write-ins ({\"other\": ...}) are not allowed");
    add_error(errors, field, message);
    free(message);
}

static cJSON *answer_value(const struct question *q, const cJSON *value, struct answer *answer,
                           struct validate_errors *errors)
{
    int64_t number;
    char field[80];

    switch (q->type) {
    case QUESTION_NPS:
        if (!json_integer(value, 0, 10, &number))
            break;
        answer->number = number;
        return cJSON_CreateNumber((double)number);
    case QUESTION_CSAT:
        if (q->scale == 2 && cJSON_IsString(value)) {
            if (strcmp(value->valuestring, "bad") == 0)
                number = 1;
            else if (strcmp(value->valuestring, "good") == 0)
                number = 2;
            else
                break;
        } else if (!json_integer(value, 1, q->scale, &number)) {
            break;
        }
        answer->number = number;
        return cJSON_CreateNumber((double)number);
    case QUESTION_CES:
        if (!json_integer(value, 1, q->scale, &number))
            break;
        answer->number = number;
        return cJSON_CreateNumber((double)number);
    case QUESTION_YES_NO:
        if (!cJSON_IsBool(value))
            break;
        answer->number = cJSON_IsTrue(value);
        return cJSON_CreateBool(cJSON_IsTrue(value));
    case QUESTION_CHOICE:
        if (cJSON_IsString(value)) {
            for (int i = 0; i < q->option_count; i++) {
                if (strcmp(q->options[i], value->valuestring) == 0) {
                    answer->number = i;
                    return cJSON_CreateString(value->valuestring);
                }
            }
        } else if (q->allow_other && cJSON_IsObject(value) && cJSON_GetArraySize(value) == 1) {
            const cJSON *other = cJSON_GetObjectItemCaseSensitive(value, "other");
            if (cJSON_IsString(other)) {
                size_t len = validate_utf8_length(other->valuestring);
                if (len == 0 || len > OTHER_TEXT_MAX) {
                    validate_error(errors, answer_field(field, sizeof field, q), "the 'other' text must be 1 to %d characters", OTHER_TEXT_MAX);
                    return NULL;
                }
                answer->number = -1;
                answer->text = noted_strdup(other->valuestring, errors);
                cJSON *stored = cJSON_CreateObject();
                cJSON_AddStringToObject(stored, "other", other->valuestring);
                return stored;
            }
        }
        break;
    case QUESTION_TEXT:
        if (!cJSON_IsString(value))
            break;
        if (validate_utf8_length(value->valuestring) > (size_t)q->max_length) {
            validate_error(errors, answer_field(field, sizeof field, q), "must be at most %d characters", q->max_length);
            return NULL;
        }
        answer->text = noted_strdup(value->valuestring, errors);
        return cJSON_CreateString(value->valuestring);
    }

    switch (q->type) {
    case QUESTION_NPS:
        validate_error(errors, answer_field(field, sizeof field, q), "must be an integer from 0 to 10");
        break;
    case QUESTION_CSAT:
        if (q->scale == 2)
            validate_error(errors, answer_field(field, sizeof field, q), "must be 1, 2, \"bad\" or \"good\"");
        else
            validate_error(errors, answer_field(field, sizeof field, q), "must be an integer from 1 to %d", q->scale);
        break;
    case QUESTION_CES:
        validate_error(errors, answer_field(field, sizeof field, q), "must be an integer from 1 to %d", q->scale);
        break;
    case QUESTION_YES_NO:
        validate_error(errors, answer_field(field, sizeof field, q), "must be true or false");
        break;
    case QUESTION_CHOICE:
        choice_error(errors, answer_field(field, sizeof field, q), q);
        break;
    case QUESTION_TEXT:
        validate_error(errors, answer_field(field, sizeof field, q), "must be a string");
        break;
    }
    return NULL;
}

/* An empty text answer carries nothing: a widget's untouched comment box. It counts as skipped. */
static bool answer_is_skip(const struct question *q, const cJSON *value)
{
    return cJSON_IsNull(value) || (q->type == QUESTION_TEXT && cJSON_IsString(value) && value->valuestring[0] == '\0');
}

/* keep: build out->answers_json (as stored). `surveyd verify` only asks whether stored answers still
 * fit: serialising each of 10 M responses again, only to throw the text away, was a third of its CPU. */
static void parse_answers(const struct survey *survey, const cJSON *answers, struct response *out,
                          struct validate_errors *errors, bool keep)
{
    char field[160];
    const cJSON *given[SURVEY_MAX_QUESTIONS] = {0};
    int errors_before = errors->count;

    if (!cJSON_IsObject(answers)) {
        validate_error(errors, "answers", answers ? "must be an object" : "is required");
        return;
    }
    for (const cJSON *item = answers->child; item; item = item->next) {
        int index;
        if (survey_find_question(survey, item->string, &index) != NULL && given[index] == NULL) {
            given[index] = item;
            continue;
        }
        field_path(field, sizeof field, "answers.%.*s", validate_utf8_cut(item->string, 100), item->string);
        if (survey_find_question(survey, item->string, &index) == NULL)
            validate_error(errors, field, "no such question in survey '%s'", survey->id);
        else
            validate_error(errors, field, "duplicate answer");
    }

    out->answers = calloc((size_t)survey->question_count, sizeof *out->answers);
    if (!allocated(out->answers, errors))
        return;
    cJSON *stored = keep ? cJSON_CreateObject() : NULL;
    /* Stored in definition order, so equal answers always serialise the same way. */
    for (int i = 0; i < survey->question_count; i++) {
        const struct question *q = &survey->questions[i];
        if (given[i] == NULL || answer_is_skip(q, given[i])) {
            if (q->required)
                validate_error(errors, answer_field(field, sizeof field, q), "is required");
            continue;
        }
        struct answer *answer = &out->answers[out->answer_count];
        answer->question = i;
        cJSON *value = answer_value(q, given[i], answer, errors);
        if (value == NULL) {
            /* Not counted, so survey_response_free() would not see a text copied before the value's
             * own allocation failed. */
            free(answer->text);
            answer->text = NULL;
            continue;
        }
        if (!keep || !cJSON_AddItemToObject(stored, q->id, value))
            cJSON_Delete(value); /* when kept: noted by cJSON's allocator, the request fails */
        out->answer_count++;
    }
    /* Only when this function found nothing else: an unknown top-level key must not hide it. */
    if (out->answer_count == 0 && errors->count == errors_before)
        validate_error(errors, "answers", "at least one answer is required");
    if (!keep)
        return;
    out->answers_json = cJSON_PrintUnformatted(stored);
    cJSON_Delete(stored);
    allocated(out->answers_json, errors);
}

static void parse_channel(const cJSON *item, struct response *out, struct validate_errors *errors)
{
    if (item == NULL || cJSON_IsNull(item))
        return;
    if (cJSON_IsString(item)) {
        const char *s = item->valuestring;
        size_t len = strlen(s);
        bool ok = len >= 1 && len <= CHANNEL_MAX;
        for (size_t i = 0; ok && i < len; i++)
            ok = (s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '_' || s[i] == '-';
        if (ok) {
            out->channel = noted_strdup(s, errors);
            return;
        }
    }
    validate_error(errors, "channel", "must be 1-%d characters of a-z, 0-9, '_' and '-' (e.g. chat, email, web)",
                   CHANNEL_MAX);
}

static char *parse_opaque(const cJSON *item, const char *field, struct validate_errors *errors)
{
    if (item == NULL || cJSON_IsNull(item))
        return NULL;
    return dup_string(bounded_string(item, OPAQUE_MAX, field, errors), errors);
}

static void parse_submitted_at(const cJSON *item, int64_t now_ms, struct response *out,
                               struct validate_errors *errors)
{
    int64_t ms;

    out->submitted_at = now_ms;
    if (item == NULL || cJSON_IsNull(item))
        return;
    if (!cJSON_IsString(item) || !timefmt_parse_rfc3339(item->valuestring, &ms))
        validate_error(errors, "submitted_at", "must be an RFC 3339 date-time such as 2026-11-02T14:30:00Z");
    else if (ms < 0)
        validate_error(errors, "submitted_at", "must not be before 1970-01-01T00:00:00Z");
    else if (ms > now_ms + FUTURE_SKEW_MS)
        validate_error(errors, "submitted_at", "must not be more than 5 minutes in the future");
    else
        out->submitted_at = ms;
}

static void parse_properties(const cJSON *item, struct response *out, struct validate_errors *errors)
{
    char field[160];
    int errors_before = errors->count;

    if (item == NULL || cJSON_IsNull(item))
        return;
    if (!cJSON_IsObject(item) || cJSON_GetArraySize(item) > PROPERTIES_MAX) {
        validate_error(errors, "properties", "must be an object of at most %d string values", PROPERTIES_MAX);
        return;
    }
    for (const cJSON *p = item->child; p; p = p->next) {
        field_path(field, sizeof field, "properties.%.*s", validate_utf8_cut(p->string, 100), p->string);
        size_t key_len = validate_utf8_length(p->string);
        if (key_len == 0 || key_len > PROPERTY_KEY_MAX)
            validate_error(errors, field, "keys must be 1 to %d characters", PROPERTY_KEY_MAX);
        else if (has_duplicate_key(item, p))
            validate_error(errors, field, "duplicate property");
        else if (!cJSON_IsString(p) || validate_utf8_length(p->valuestring) > PROPERTY_VALUE_MAX)
            validate_error(errors, field, "must be a string of at most %d characters", PROPERTY_VALUE_MAX);
    }
    if (errors->count == errors_before && cJSON_GetArraySize(item) > 0)
        allocated(out->properties_json = cJSON_PrintUnformatted(item), errors);
}

bool validate_response(const struct survey *survey, const cJSON *body, int64_t now_ms, struct response *out,
                       struct validate_errors *errors)
{
    static const char *const keys[] = {"answers", "channel", "customer", "agent", "interaction",
                                       "submitted_at", "properties", NULL};
    int errors_before = errors->count;

    memset(out, 0, sizeof *out);
    snprintf(out->survey, sizeof out->survey, "%s", survey->id);
    out->received_at = now_ms;
    if (!cJSON_IsObject(body)) {
        validate_error(errors, "", "the response must be a JSON object");
        return false;
    }
    check_keys(body, keys, "", errors);
    parse_answers(survey, cJSON_GetObjectItemCaseSensitive(body, "answers"), out, errors, true);
    parse_channel(cJSON_GetObjectItemCaseSensitive(body, "channel"), out, errors);
    out->customer = parse_opaque(cJSON_GetObjectItemCaseSensitive(body, "customer"), "customer", errors);
    out->agent = parse_opaque(cJSON_GetObjectItemCaseSensitive(body, "agent"), "agent", errors);
    out->interaction = parse_opaque(cJSON_GetObjectItemCaseSensitive(body, "interaction"), "interaction", errors);
    parse_submitted_at(cJSON_GetObjectItemCaseSensitive(body, "submitted_at"), now_ms, out, errors);
    parse_properties(cJSON_GetObjectItemCaseSensitive(body, "properties"), out, errors);

    if (errors->count > errors_before) {
        survey_response_free(out);
        return false;
    }
    return true;
}

bool validate_stored_answers(const struct survey *survey, const cJSON *answers, struct validate_errors *errors)
{
    struct response parsed;
    int errors_before = errors->count;

    memset(&parsed, 0, sizeof parsed);
    parse_answers(survey, answers, &parsed, errors, false);
    survey_response_free(&parsed);
    return errors->count == errors_before;
}

/* ---- invitations ---- */

bool validate_email_address(const char *address)
{
    const char *at = strchr(address, '@');
    size_t len = strlen(address);
    if (at == NULL || at == address || at[1] == '\0' || strchr(at + 1, '@') || len > INVITATION_EMAIL_MAX)
        return false;
    if (at[1] == '.' || address[len - 1] == '.')
        return false;
    for (const char *p = address; *p; p++) {
        if (*p <= ' ' || *p > '~' || strchr("\"<>(),;:[]\\", *p))
            return false;
    }
    return true;
}

static void parse_send(const cJSON *item, struct invitation_request *out, struct validate_errors *errors)
{
    static const char *const keys[] = {"email", NULL};

    if (item == NULL || cJSON_IsNull(item))
        return;
    if (!cJSON_IsObject(item)) {
        validate_error(errors, "send", "must be an object such as {\"email\": \"ada@example.com\"}");
        return;
    }
    check_keys(item, keys, "send.", errors);
    const cJSON *email = cJSON_GetObjectItemCaseSensitive(item, "email");
    if (email == NULL)
        validate_error(errors, "send.email", "is required");
    else if (!cJSON_IsString(email) || !validate_email_address(email->valuestring))
        validate_error(errors, "send.email",
                       "must be a plain email address such as ada@example.com (ASCII, at most %d characters)",
                       INVITATION_EMAIL_MAX);
    else
        out->email = noted_strdup(email->valuestring, errors);
}

static void parse_expires_in(const cJSON *item, struct invitation_request *out, struct validate_errors *errors)
{
    out->expires_in_s = INVITATION_EXPIRES_DEFAULT_S;
    if (item == NULL || cJSON_IsNull(item))
        return;
    if (!json_integer(item, INVITATION_EXPIRES_MIN_S, INVITATION_EXPIRES_MAX_S, &out->expires_in_s))
        validate_error(errors, "expires_in", "must be an integer number of seconds from %d to %d (90 days)",
                       INVITATION_EXPIRES_MIN_S, INVITATION_EXPIRES_MAX_S);
}

bool validate_invitation(const cJSON *body, struct invitation_request *out, struct validate_errors *errors)
{
    static const char *const keys[] = {"customer", "channel", "agent", "interaction", "properties",
                                       "expires_in", "send", NULL};
    struct response scratch; /* the fields a response shares, parsed by the same rules */
    int errors_before = errors->count;

    memset(out, 0, sizeof *out);
    memset(&scratch, 0, sizeof scratch);
    if (!cJSON_IsObject(body)) {
        validate_error(errors, "", "the invitation must be a JSON object");
        return false;
    }
    check_keys(body, keys, "", errors);
    const cJSON *customer = cJSON_GetObjectItemCaseSensitive(body, "customer");
    if (customer == NULL || cJSON_IsNull(customer))
        validate_error(errors, "customer", "is required");
    else
        out->customer = parse_opaque(customer, "customer", errors);
    parse_channel(cJSON_GetObjectItemCaseSensitive(body, "channel"), &scratch, errors);
    out->agent = parse_opaque(cJSON_GetObjectItemCaseSensitive(body, "agent"), "agent", errors);
    out->interaction = parse_opaque(cJSON_GetObjectItemCaseSensitive(body, "interaction"), "interaction", errors);
    parse_properties(cJSON_GetObjectItemCaseSensitive(body, "properties"), &scratch, errors);
    out->channel = scratch.channel;
    out->properties_json = scratch.properties_json;
    scratch.channel = scratch.properties_json = NULL;
    parse_expires_in(cJSON_GetObjectItemCaseSensitive(body, "expires_in"), out, errors);
    parse_send(cJSON_GetObjectItemCaseSensitive(body, "send"), out, errors);

    if (errors->count > errors_before) {
        survey_invitation_request_free(out);
        return false;
    }
    return true;
}
