#include "cors.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "ids.h"

#define ORIGIN_MAX 255

struct cors {
    bool any;
    char **origins;
    int count;
};

static bool origin_syntax_valid(const char *origin)
{
    const char *host = strncmp(origin, "https://", 8) == 0 ? origin + 8
                       : strncmp(origin, "http://", 7) == 0 ? origin + 7
                                                            : NULL;
    return host && *host && strlen(origin) <= ORIGIN_MAX && strpbrk(host, "/?#@ ") == NULL;
}

struct cors *cors_new(const char *list, char *err, size_t err_size)
{
    struct cors *cors = calloc(1, sizeof *cors);
    if (cors == NULL)
        return NULL;
    for (const char *p = list ? list : ""; *p;) {
        size_t len = strcspn(p, ",");
        while (len > 0 && *p == ' ')
            p++, len--;
        size_t end = len;
        while (end > 0 && p[end - 1] == ' ')
            end--;
        char *origin = strndup(p, end);
        if (origin && strcmp(origin, "*") == 0) {
            cors->any = true;
            free(origin);
        } else if (origin && *origin) {
            if (!origin_syntax_valid(origin)) {
                snprintf(err, err_size, "SURVEYD_CORS_ORIGINS: '%.100s' is not an origin like https://www.example.com",
                         origin);
                free(origin);
                cors_free(cors);
                return NULL;
            }
            char **grown = realloc(cors->origins, (size_t)(cors->count + 1) * sizeof *grown);
            if (grown == NULL) {
                free(origin);
                break;
            }
            cors->origins = grown;
            cors->origins[cors->count++] = origin;
        } else {
            free(origin);
        }
        p += len;
        if (*p == ',')
            p++;
    }
    return cors;
}

void cors_free(struct cors *cors)
{
    if (cors == NULL)
        return;
    for (int i = 0; i < cors->count; i++)
        free(cors->origins[i]);
    free(cors->origins);
    free(cors);
}

static bool same_origin(struct http_request *req, const char *origin)
{
    const char *host = http_header(req, "Host");
    const char *rest = strstr(origin, "://");
    return host && rest && strcmp(rest + 3, host) == 0;
}

/* The survey an endpoint belongs to, for its allowed_origins: /v1/surveys/{id}... directly,
 * /v1/responses/{id} through the stored response. */
static bool survey_of_request(struct http_request *req, struct store_conn *conn, char survey[SURVEY_ID_MAX + 1])
{
    if (strncmp(req->path, "/v1/surveys/", 12) == 0 && ids_valid_slug(req->params[0])) {
        snprintf(survey, SURVEY_ID_MAX + 1, "%.64s", req->params[0]);
        return true;
    }
    if (strncmp(req->path, "/v1/responses/", 14) == 0 && conn) {
        struct store_response_row row;
        if (store_get_response(conn, req->params[0], &row) != STORE_OK)
            return false;
        snprintf(survey, SURVEY_ID_MAX + 1, "%s", row.survey);
        store_response_row_free(&row);
        return true;
    }
    return false;
}

bool cors_allowed(struct http_request *req, const char *origin)
{
    struct app *app = api_app(req);
    char id[SURVEY_ID_MAX + 1];
    struct survey survey;

    if (app->cors->any || same_origin(req, origin))
        return true;
    for (int i = 0; i < app->cors->count; i++) {
        if (strcmp(app->cors->origins[i], origin) == 0)
            return true;
    }
    struct store_conn *conn = store_reader(app->store);
    if (!survey_of_request(req, conn, id) || api_load_survey_cached(app->surveys, conn, id, &survey, NULL) != STORE_OK)
        return false;
    bool allowed = false;
    for (int i = 0; i < survey.origin_count && !allowed; i++)
        allowed = strcmp(survey.allowed_origins[i], origin) == 0;
    survey_free(&survey);
    return allowed;
}
