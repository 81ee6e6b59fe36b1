#include "topic_matcher.h"

#include <stdlib.h>
#include <string.h>

#include "oom.h"
#include "text_query.h"

bool topic_matcher_add(struct topic_matcher *m, const char *id, const char *query, enum text_language language)
{
    struct text_query *q = NULL;
    struct text_query_error error;
    enum text_query_status parsed = text_query_parse(query, strlen(query), &q, &error);
    if (parsed == TEXT_QUERY_INVALID || parsed == TEXT_QUERY_TOO_COMPLEX)
        return true;
    if (parsed != TEXT_QUERY_OK || !text_query_stem(q, language))
        goto fail;
    char **ids = realloc(m->ids, (m->n + 1) * sizeof *ids);
    if (ids == NULL)
        goto fail;
    m->ids = ids;
    struct text_query **queries = realloc(m->queries, (m->n + 1) * sizeof *queries);
    if (queries == NULL)
        goto fail;
    m->queries = queries;
    if ((m->ids[m->n] = strdup(id)) == NULL)
        goto fail;
    m->queries[m->n++] = q;
    return true;
fail:
    text_query_free(q);
    oom_note();
    return false;
}

bool topic_matcher_match(const struct topic_matcher *m, const char *doc, size_t len, bool *matched)
{
    for (size_t i = 0; i < m->n; i++) {
        int hit = text_query_eval(m->queries[i], doc, len);
        if (hit < 0)
            return false;
        matched[i] = hit == 1;
    }
    return true;
}

void topic_matcher_free(struct topic_matcher *m)
{
    for (size_t i = 0; i < m->n; i++) {
        free(m->ids[i]);
        text_query_free(m->queries[i]);
    }
    free(m->ids);
    free(m->queries);
    memset(m, 0, sizeof *m);
}
