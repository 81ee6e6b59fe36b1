/*
 * libFuzzer harness: a survey definition body (PUT /surveys/{id}) as the API handles it:
 * json_strict_check, cJSON_ParseWithLength, validate_definition.
 *
 * Invariants (abort() when broken):
 *   - whatever json_strict_check accepts (without a \u0000 escape), cJSON parses;
 *   - validate_definition true => no errors; false => at least one error;
 *   - round trip: a valid definition, normalised by validate_definition_to_json, printed and parsed
 *     again (the way it is stored and loaded), is valid and normalises to the same text;
 *   - everything allocated is freed (LeakSanitizer).
 */
#include <cjson/cJSON.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "json_strict.h"
#include "survey.h"
#include "validate.h"

static char *normalised_text(const struct survey *survey)
{
    cJSON *json = validate_definition_to_json(survey);
    char *text = json ? cJSON_PrintUnformatted(json) : NULL;
    if (text == NULL)
        abort();
    cJSON_Delete(json);
    return text;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct json_strict_result res;

    if (!json_strict_check((const char *)data, size, JSON_STRICT_MAX_DEPTH, &res) || res.has_nul_escape)
        return 0;
    cJSON *json = cJSON_ParseWithLength((const char *)data, size);
    if (json == NULL)
        abort(); /* strict JSON that cJSON cannot parse */

    struct survey survey;
    struct validate_errors errors;
    validate_errors_init(&errors);
    bool ok = validate_definition("fuzz", json, &survey, &errors);
    cJSON_Delete(json);
    if (!ok) {
        if (errors.count < 1)
            abort();
        validate_errors_free(&errors);
        survey_free(&survey); /* "holds nothing to free": must be harmless */
        return 0;
    }
    if (errors.count != 0 || errors.list != NULL)
        abort();

    /* Round trip through the stored form. */
    char *first = normalised_text(&survey);
    if (!json_strict_check(first, strlen(first), JSON_STRICT_MAX_DEPTH, &res) || res.has_nul_escape)
        abort();
    cJSON *stored = cJSON_Parse(first);
    if (stored == NULL)
        abort();
    struct survey again;
    if (!validate_definition("fuzz", stored, &again, &errors) || errors.count != 0)
        abort();
    char *second = normalised_text(&again);
    if (strcmp(first, second) != 0)
        abort();

    cJSON_free(second);
    cJSON_free(first);
    cJSON_Delete(stored);
    survey_free(&again);
    survey_free(&survey);
    validate_errors_free(&errors);
    return 0;
}
