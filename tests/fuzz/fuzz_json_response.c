/*
 * libFuzzer harness: a POST /responses body as the API handles it (server/api.c api_parse_body):
 * json_strict_check, then cJSON_ParseWithLength, then validate_response against a fixed survey
 * holding one question of each type.
 *
 * Invariants (abort() when broken, so libFuzzer saves the input):
 *   - whatever json_strict_check accepts (without a \u0000 escape), cJSON parses;
 *   - validate_response true  => no errors, answers_json (and properties_json) parse with cJSON and
 *     are strict JSON themselves; validate_response false => at least one error;
 *   - everything allocated is freed (LeakSanitizer).
 */
#include <cjson/cJSON.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "json_strict.h"
#include "survey.h"
#include "validate.h"

/* 2026-11-22T12:00:00Z: fixed, so every run of an input behaves the same. */
#define FUZZ_NOW_MS INT64_C(1795348800000)

static const char survey_definition[] =
    "{\"title\":\"Fuzz survey\",\"public\":true,\"allowed_origins\":[\"https://www.example.com\"],"
    "\"questions\":["
    "{\"id\":\"rec\",\"type\":\"nps\",\"text\":\"How likely are you to recommend us?\",\"required\":true},"
    "{\"id\":\"sat2\",\"type\":\"csat\",\"scale\":2},"
    "{\"id\":\"sat5\",\"type\":\"csat\",\"scale\":5},"
    "{\"id\":\"effort\",\"type\":\"ces\",\"scale\":7},"
    "{\"id\":\"resolved\",\"type\":\"yes_no\"},"
    "{\"id\":\"topic\",\"type\":\"choice\",\"options\":[\"billing\",\"shipping\",\"caf\\u00e9\"],\"allow_other\":true},"
    "{\"id\":\"comment\",\"type\":\"text\",\"max_length\":50}"
    "]}";

/* The only global state: the survey, built on first use and kept for the process's lifetime. */
static const struct survey *fuzz_survey(void)
{
    static struct survey survey;
    static int built;

    if (!built) {
        struct validate_errors errors;
        validate_errors_init(&errors);
        cJSON *json = cJSON_Parse(survey_definition);
        if (json == NULL || !validate_definition("fuzz", json, &survey, &errors))
            abort();
        cJSON_Delete(json);
        validate_errors_free(&errors);
        built = 1;
    }
    return &survey;
}

/* Server output that is stored and parsed again must be JSON for both parsers. */
static void check_output_json(const char *text)
{
    if (!json_strict_check(text, strlen(text), JSON_STRICT_MAX_DEPTH, NULL))
        abort();
    cJSON *json = cJSON_Parse(text);
    if (json == NULL)
        abort();
    cJSON_Delete(json);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const struct survey *survey = fuzz_survey();
    struct json_strict_result res;

    if (!json_strict_check((const char *)data, size, JSON_STRICT_MAX_DEPTH, &res) || res.has_nul_escape)
        return 0;
    cJSON *json = cJSON_ParseWithLength((const char *)data, size);
    if (json == NULL)
        abort(); /* strict JSON that cJSON cannot parse */

    struct response response;
    struct validate_errors errors;
    validate_errors_init(&errors);
    bool ok = validate_response(survey, json, FUZZ_NOW_MS, &response, &errors);
    if (ok) {
        if (errors.count != 0 || errors.list != NULL || response.answers_json == NULL ||
            response.answer_count < 1 || response.answer_count > survey->question_count)
            abort();
        check_output_json(response.answers_json);
        if (response.properties_json)
            check_output_json(response.properties_json);
    } else if (errors.count < 1) {
        abort();
    }
    survey_response_free(&response); /* on failure validate_response has freed and zeroed it */
    validate_errors_free(&errors);
    cJSON_Delete(json);
    return 0;
}
