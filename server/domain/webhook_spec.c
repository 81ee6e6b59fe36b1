#include "webhook_spec.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ids.h"
#include "oom.h"

#define HOST_MAX 253

/* Indexed by bit position; the order of the enum, not of the names. */
static const char *const event_names[] = {
    "response.created", "response.updated", "response.deleted", "survey.updated", "customer.erased",
};
#define EVENT_COUNT (sizeof event_names / sizeof event_names[0])

/* Stored and served in this order (alphabetical), so that equal sets print the same. */
static const enum webhook_event events_sorted[] = {
    WEBHOOK_CUSTOMER_ERASED, WEBHOOK_RESPONSE_CREATED, WEBHOOK_RESPONSE_DELETED,
    WEBHOOK_RESPONSE_UPDATED, WEBHOOK_SURVEY_UPDATED,
};

static const char *const format_names[] = {[WEBHOOK_FORMAT_STANDARD] = "standard", [WEBHOOK_FORMAT_SLACK] = "slack"};

static const char *const body_keys[] = {"url", "events", "surveys", "filter", "format", "enabled", NULL};
static const char *const filter_keys[] = {"question", "min", "max", NULL};

void webhook_spec_free(struct webhook_spec *spec)
{
    if (spec == NULL)
        return;
    free(spec->url);
    for (size_t i = 0; i < spec->survey_count; i++)
        free(spec->surveys[i]);
    free(spec->surveys);
    memset(spec, 0, sizeof *spec);
}

const char *webhook_event_name(enum webhook_event event)
{
    for (size_t i = 0; i < EVENT_COUNT; i++) {
        if ((unsigned)event == 1u << i)
            return event_names[i];
    }
    return NULL;
}

bool webhook_event_parse(const char *name, enum webhook_event *out)
{
    if (name == NULL)
        return false;
    for (size_t i = 0; i < EVENT_COUNT; i++) {
        if (strcmp(name, event_names[i]) == 0) {
            *out = (enum webhook_event)(1u << i);
            return true;
        }
    }
    return false;
}

/* ---- parsing ---- */

static bool key_allowed(const char *key, const char *const *allowed)
{
    for (; *allowed; allowed++) {
        if (strcmp(key, *allowed) == 0)
            return true;
    }
    return false;
}

/* Unknown and duplicate members are errors, as in every other body: cJSON would silently take the
 * first of two, and a misspelt "filtre" must not quietly subscribe to everything. */
static void check_keys(const cJSON *object, const char *const *allowed, const char *prefix,
                       struct validate_errors *errors)
{
    for (const cJSON *item = object->child; item; item = item->next) {
        bool unknown = !key_allowed(item->string, allowed);
        bool duplicate = false;
        for (const cJSON *other = object->child; other != item && !duplicate; other = other->next)
            duplicate = strcmp(other->string, item->string) == 0;
        if (!unknown && !duplicate)
            continue;
        char field[160];
        snprintf(field, sizeof field, "%s%.*s", prefix, validate_utf8_cut(item->string, 100), item->string);
        validate_error(errors, field, unknown ? "unknown field" : "duplicate field");
    }
}

static bool host_char(char c)
{
    return isalnum((unsigned char)c) || c == '-' || c == '.' || c == '_';
}

/* The authority of an http(s) URL: [host] or host, then an optional :port. No user info (a secret
 * in the URL would be shown by every GET and logged), and a host a resolver can take. */
static const char *check_authority(const char *start, size_t len)
{
    if (len == 0)
        return "must have a host";
    if (memchr(start, '@', len) != NULL)
        return "must not hold a user name or password (user:password@)";
    const char *end = start + len, *host_end;
    if (*start == '[') {
        host_end = memchr(start, ']', len);
        char literal[INET6_ADDRSTRLEN + 1];
        struct in6_addr addr;
        size_t n = host_end ? (size_t)(host_end - start - 1) : 0;
        if (host_end == NULL || n == 0 || n >= sizeof literal)
            return "must have a valid IPv6 address in brackets";
        memcpy(literal, start + 1, n);
        literal[n] = '\0';
        if (inet_pton(AF_INET6, literal, &addr) != 1)
            return "must have a valid IPv6 address in brackets";
        host_end++;
    } else {
        host_end = start;
        while (host_end < end && *host_end != ':')
            host_end++;
        if (host_end == start)
            return "must have a host";
        if (host_end - start > HOST_MAX)
            return "has a host name longer than 253 characters";
        for (const char *p = start; p < host_end; p++) {
            if (!host_char(*p))
                return "must have a host of letters, digits, '-' and '.' (an IDN in its xn-- form)";
        }
    }
    if (host_end == end)
        return NULL;
    if (*host_end != ':' || host_end + 1 == end || end - host_end > 6)
        return "must have a port from 1 to 65535 after the host";
    long port = 0;
    for (const char *p = host_end + 1; p < end; p++) {
        if (!isdigit((unsigned char)*p))
            return "must have a port from 1 to 65535 after the host";
        port = port * 10 + (*p - '0');
    }
    return port >= 1 && port <= 65535 ? NULL : "must have a port from 1 to 65535 after the host";
}

/* Why url is not one a delivery can be posted to, or NULL when it is. */
static const char *url_problem(const char *url)
{
    size_t len = strlen(url);
    if (len == 0 || len > WEBHOOK_URL_MAX)
        return "must be an http:// or https:// URL of at most 2048 characters";
    for (const char *p = url; *p; p++) {
        if ((unsigned char)*p <= ' ' || (unsigned char)*p >= 0x7f)
            return "must not hold spaces, control or non-ASCII characters (percent-encode them)";
    }
    const char *rest;
    if (strncmp(url, "https://", 8) == 0)
        rest = url + 8;
    else if (strncmp(url, "http://", 7) == 0)
        rest = url + 7;
    else
        return "must be an http:// or https:// URL";
    if (strchr(url, '#') != NULL)
        return "must not have a fragment (#...): it is never sent";
    size_t authority = strcspn(rest, "/?");
    return check_authority(rest, authority);
}

static void parse_url(const cJSON *item, struct webhook_spec *out, struct validate_errors *errors)
{
    if (item == NULL) {
        validate_error(errors, "url", "is required");
        return;
    }
    if (!cJSON_IsString(item)) {
        validate_error(errors, "url", "must be a string");
        return;
    }
    const char *problem = url_problem(item->valuestring);
    if (problem) {
        validate_error(errors, "url", "%s", problem);
        return;
    }
    out->url = strdup(item->valuestring);
    if (out->url == NULL) {
        oom_note();
        validate_error(errors, "", "out of memory");
    }
}

static void parse_events(const cJSON *item, struct webhook_spec *out, struct validate_errors *errors)
{
    if (item == NULL) {
        validate_error(errors, "events", "is required");
        return;
    }
    if (!cJSON_IsArray(item) || cJSON_GetArraySize(item) == 0) {
        validate_error(errors, "events", "must be a non-empty array of event types (response.created, "
                       "response.updated, response.deleted, survey.updated, customer.erased)");
        return;
    }
    int index = 0;
    for (const cJSON *e = item->child; e; e = e->next, index++) {
        enum webhook_event event;
        if (cJSON_IsString(e) && webhook_event_parse(e->valuestring, &event)) {
            out->events |= (unsigned)event;
            continue;
        }
        char field[32];
        snprintf(field, sizeof field, "events[%d]", index);
        validate_error(errors, field, "must be one of response.created, response.updated, response.deleted, "
                       "survey.updated, customer.erased");
    }
}

static int compare_strings(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sorted and deduplicated, so that the same set is stored (and compared) the same way. */
static void sort_surveys(struct webhook_spec *spec)
{
    if (spec->survey_count == 0)
        return;
    qsort(spec->surveys, spec->survey_count, sizeof *spec->surveys, compare_strings);
    size_t kept = 1;
    for (size_t i = 1; i < spec->survey_count; i++) {
        if (strcmp(spec->surveys[i], spec->surveys[kept - 1]) == 0)
            free(spec->surveys[i]);
        else
            spec->surveys[kept++] = spec->surveys[i];
    }
    spec->survey_count = kept;
}

static void parse_surveys(const cJSON *item, struct webhook_spec *out, struct validate_errors *errors)
{
    if (item == NULL || cJSON_IsNull(item))
        return;                 /* every survey */
    int size = cJSON_IsArray(item) ? cJSON_GetArraySize(item) : 0;
    if (size < 1 || size > WEBHOOK_SURVEYS_MAX) {
        validate_error(errors, "surveys", "must be an array of 1 to %d survey ids (leave it out for every survey)",
                       WEBHOOK_SURVEYS_MAX);
        return;
    }
    out->surveys = calloc((size_t)size, sizeof *out->surveys);
    if (out->surveys == NULL) {
        oom_note();
        validate_error(errors, "", "out of memory");
        return;
    }
    int index = 0;
    for (const cJSON *s = item->child; s; s = s->next, index++) {
        if (!cJSON_IsString(s) || !ids_valid_slug(s->valuestring)) {
            char field[32];
            snprintf(field, sizeof field, "surveys[%d]", index);
            validate_error(errors, field, "must be a survey id (1-64 characters of a-z, 0-9, '_' and '-')");
            continue;
        }
        char *copy = strdup(s->valuestring);
        if (copy == NULL) {
            oom_note();
            validate_error(errors, "", "out of memory");
            return;
        }
        out->surveys[out->survey_count++] = copy;
    }
    sort_surveys(out);
}

static bool parse_bound(const cJSON *filter, const char *name, bool *has, double *value,
                        struct validate_errors *errors)
{
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(filter, name);
    if (item == NULL || cJSON_IsNull(item))
        return true;
    char field[32];
    snprintf(field, sizeof field, "filter.%s", name);
    if (!cJSON_IsNumber(item) || !isfinite(item->valuedouble)) {
        validate_error(errors, field, "must be a number");
        return false;
    }
    *has = true;
    *value = item->valuedouble;
    return true;
}

/* The question need not exist in the listed surveys: surveys change after a subscription is saved,
 * and a response without an answer to it simply does not match. */
static void parse_filter(const cJSON *item, struct webhook_spec *out, struct validate_errors *errors)
{
    if (item == NULL || cJSON_IsNull(item))
        return;
    if (!cJSON_IsObject(item)) {
        validate_error(errors, "filter", "must be an object such as {\"question\": \"nps\", \"max\": 6}");
        return;
    }
    int before = errors->count;
    check_keys(item, filter_keys, "filter.", errors);
    struct webhook_filter *f = &out->filter;
    const cJSON *question = cJSON_GetObjectItemCaseSensitive(item, "question");
    if (question == NULL)
        validate_error(errors, "filter.question", "is required");
    else if (!cJSON_IsString(question) || !ids_valid_slug(question->valuestring))
        validate_error(errors, "filter.question", "must be a question id (1-64 characters of a-z, 0-9, '_' and '-')");
    else
        snprintf(f->question, sizeof f->question, "%s", question->valuestring);
    bool bounds_ok = parse_bound(item, "min", &f->has_min, &f->min, errors);
    bounds_ok = parse_bound(item, "max", &f->has_max, &f->max, errors) && bounds_ok;
    if (bounds_ok && !f->has_min && !f->has_max)
        validate_error(errors, "filter", "needs min, max or both");
    if (f->has_min && f->has_max && f->min > f->max)
        validate_error(errors, "filter.min", "must not be greater than max");
    f->set = errors->count == before;
}

static void parse_format(const cJSON *item, struct webhook_spec *out, struct validate_errors *errors)
{
    out->format = WEBHOOK_FORMAT_STANDARD;
    if (item == NULL || cJSON_IsNull(item))
        return;
    if (cJSON_IsString(item)) {
        for (size_t i = 0; i < sizeof format_names / sizeof format_names[0]; i++) {
            if (strcmp(item->valuestring, format_names[i]) == 0) {
                out->format = (enum webhook_format)i;
                return;
            }
        }
    }
    validate_error(errors, "format", "must be standard or slack");
}

bool webhook_spec_parse(const cJSON *body, struct webhook_spec *out, struct validate_errors *errors)
{
    memset(out, 0, sizeof *out);
    if (!cJSON_IsObject(body)) {
        validate_error(errors, "", "the subscription must be a JSON object");
        return false;
    }
    int before = errors->count;
    check_keys(body, body_keys, "", errors);
    parse_url(cJSON_GetObjectItemCaseSensitive(body, "url"), out, errors);
    parse_events(cJSON_GetObjectItemCaseSensitive(body, "events"), out, errors);
    parse_surveys(cJSON_GetObjectItemCaseSensitive(body, "surveys"), out, errors);
    parse_filter(cJSON_GetObjectItemCaseSensitive(body, "filter"), out, errors);
    parse_format(cJSON_GetObjectItemCaseSensitive(body, "format"), out, errors);
    const cJSON *enabled = cJSON_GetObjectItemCaseSensitive(body, "enabled");
    out->enabled = true;
    if (enabled != NULL && !cJSON_IsNull(enabled)) {
        if (cJSON_IsBool(enabled))
            out->enabled = cJSON_IsTrue(enabled);
        else
            validate_error(errors, "enabled", "must be true or false");
    }
    if (errors->count == before)
        return true;
    webhook_spec_free(out);
    return false;
}

/* ---- stored form ---- */

static cJSON *parse_optional(const char *text, bool *ok)
{
    if (text == NULL)
        return NULL;
    cJSON *json = cJSON_Parse(text);
    if (json == NULL)
        *ok = false;
    return json;
}

/* The stored texts are what webhook_spec_to_stored wrote: rebuilding a body from them and parsing
 * it again checks a row as strictly as a PUT (a corrupt row is not half-trusted). */
bool webhook_spec_from_stored(const char *url, const char *events, const char *surveys, const char *filter,
                              const char *format, struct webhook_spec *out)
{
    memset(out, 0, sizeof *out);
    if (url == NULL || events == NULL || format == NULL)
        return false;
    bool ok = true;
    cJSON *body = cJSON_CreateObject();
    cJSON *events_json = parse_optional(events, &ok);
    cJSON *surveys_json = parse_optional(surveys, &ok);
    cJSON *filter_json = parse_optional(filter, &ok);
    if (body == NULL || !ok) {
        cJSON_Delete(events_json);
        cJSON_Delete(surveys_json);
        cJSON_Delete(filter_json);
        cJSON_Delete(body);
        return false;
    }
    cJSON_AddStringToObject(body, "url", url);
    cJSON_AddStringToObject(body, "format", format);
    oom_add_item(body, "events", events_json);
    oom_add_item(body, "surveys", surveys_json);
    oom_add_item(body, "filter", filter_json);
    struct validate_errors errors;
    validate_errors_init(&errors);
    ok = webhook_spec_parse(body, out, &errors);
    validate_errors_free(&errors);
    cJSON_Delete(body);
    return ok;
}

static cJSON *events_json(unsigned events)
{
    cJSON *array = cJSON_CreateArray();
    for (size_t i = 0; i < EVENT_COUNT; i++) {
        if (events & (unsigned)events_sorted[i])
            oom_append_item(array, cJSON_CreateString(webhook_event_name(events_sorted[i])));
    }
    return array;
}

static cJSON *surveys_json(const struct webhook_spec *spec)
{
    cJSON *array = cJSON_CreateArray();
    for (size_t i = 0; i < spec->survey_count; i++)
        oom_append_item(array, cJSON_CreateString(spec->surveys[i]));
    return array;
}

static cJSON *filter_json(const struct webhook_filter *filter)
{
    cJSON *object = cJSON_CreateObject();
    cJSON_AddStringToObject(object, "question", filter->question);
    if (filter->has_min)
        cJSON_AddNumberToObject(object, "min", filter->min);
    if (filter->has_max)
        cJSON_AddNumberToObject(object, "max", filter->max);
    return object;
}

/* Prints and deletes json; false when either failed (out of memory). */
static bool print_into(cJSON *json, char **out)
{
    *out = json ? cJSON_PrintUnformatted(json) : NULL;
    cJSON_Delete(json);
    return *out != NULL;
}

bool webhook_spec_to_stored(const struct webhook_spec *spec, struct webhook_spec_texts *out)
{
    memset(out, 0, sizeof *out);
    out->format = format_names[spec->format == WEBHOOK_FORMAT_SLACK ? WEBHOOK_FORMAT_SLACK : WEBHOOK_FORMAT_STANDARD];
    if (!print_into(events_json(spec->events), &out->events))
        goto fail;
    if (spec->survey_count > 0 && !print_into(surveys_json(spec), &out->surveys))
        goto fail;
    if (spec->filter.set && !print_into(filter_json(&spec->filter), &out->filter))
        goto fail;
    return true;
fail:
    oom_note();
    webhook_spec_texts_free(out);
    return false;
}

void webhook_spec_texts_free(struct webhook_spec_texts *texts)
{
    free(texts->events);
    free(texts->surveys);
    free(texts->filter);
    memset(texts, 0, sizeof *texts);
}

/* ---- matching ---- */

static bool survey_listed(const struct webhook_spec *spec, const char *survey)
{
    if (spec->survey_count == 0 || survey == NULL)
        return true;            /* every survey; or an event about none (customer.erased) */
    const char *key = survey;
    return bsearch(&key, spec->surveys, spec->survey_count, sizeof *spec->surveys, compare_strings) != NULL;
}

/* The answer as a number: nps, csat and ces are stored as numbers, yes_no as a boolean (1/0). A
 * choice or text answer, or none, has no number and does not match. */
static bool filter_holds(const struct webhook_filter *filter, const cJSON *answers)
{
    const cJSON *answer = cJSON_IsObject(answers) ? cJSON_GetObjectItemCaseSensitive(answers, filter->question) : NULL;
    double value;
    if (cJSON_IsNumber(answer))
        value = answer->valuedouble;
    else if (cJSON_IsBool(answer))
        value = cJSON_IsTrue(answer) ? 1 : 0;
    else
        return false;
    if (filter->has_min && value < filter->min)
        return false;
    return !(filter->has_max && value > filter->max);
}

bool webhook_spec_matches(const struct webhook_spec *spec, enum webhook_event type, const char *survey,
                          const cJSON *answers)
{
    if (!spec->enabled || (spec->events & (unsigned)type) == 0 || !survey_listed(spec, survey))
        return false;
    bool response_event = type == WEBHOOK_RESPONSE_CREATED || type == WEBHOOK_RESPONSE_UPDATED ||
                          type == WEBHOOK_RESPONSE_DELETED;
    return !response_event || !spec->filter.set || filter_holds(&spec->filter, answers);
}
