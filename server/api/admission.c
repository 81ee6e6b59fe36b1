#include "admission.h"

#include "api.h"
#include "ids.h"

bool admission_admin(struct http_request *req)
{
    return api_require(req, auth_may_admin);
}

/* Invitations: made by backends alone (invitations.c). */
bool admission_ingest(struct http_request *req)
{
    return api_require(req, auth_may_ingest);
}

/* Mirrors the handler's authorisation (responses.c): a missing survey looks private to those
 * without the right, so ids don't leak here either. A store error admits: the handler will say. */
bool admission_submit(struct http_request *req)
{
    struct auth_result auth = api_auth(req);
    struct survey survey;

    if (auth_may_ingest(auth.roles))
        return true;
    enum store_status status = STORE_NOT_FOUND;
    if (ids_valid_slug(req->params[0]))
        status = api_load_survey_current(api_app(req)->surveys, store_reader(api_app(req)->store), req->params[0],
                                        &survey, NULL);
    if (status == STORE_OK) {
        bool open = survey.is_public;
        survey_free(&survey);
        if (open)
            return true;
    } else if (status != STORE_NOT_FOUND) {
        return true;
    }
    api_reply_denied(req, auth);
    return false;
}
