/* The survey domain in plain C: definitions and validated responses. No I/O, no HTTP, no SQL. */
#ifndef SURVEYD_SURVEY_H
#define SURVEYD_SURVEY_H

#include <stdbool.h>
#include <stdint.h>

#define SURVEY_ID_MAX 64
#define SURVEY_MAX_QUESTIONS 50
#define SURVEY_MAX_OPTIONS 50
#define SURVEY_THROTTLE_DEFAULT (-1)   /* throttle_days absent: the daemon's default applies */
#define SURVEY_THROTTLE_MAX 365

enum question_type {
    QUESTION_NPS,
    QUESTION_CSAT,
    QUESTION_CES,
    QUESTION_YES_NO,
    QUESTION_CHOICE,
    QUESTION_TEXT,
};

struct question {
    char id[SURVEY_ID_MAX + 1];
    enum question_type type;
    char *text;             /* prompt, may be NULL */
    bool required;
    int scale;              /* csat, ces: answers are 1..scale; nps: 10 (answers 0..10) */
    bool allow_other;       /* choice */
    char **options;         /* choice */
    int option_count;
    int max_length;         /* text, in code points */
};

struct survey {
    char id[SURVEY_ID_MAX + 1];
    char *title;
    bool is_public;
    char **allowed_origins;
    int origin_count;
    struct question *questions;
    int question_count;
    /* Invitations: a customer invited or answering within throttle_days is not invited again
     * (SURVEY_THROTTLE_DEFAULT: the daemon's --throttle-days); only customers whose stable hash
     * falls below sample_rate (0..1) are invited at all. */
    int throttle_days;
    double sample_rate;
    int64_t created_at;     /* ms since epoch; 0 until stored */
    int64_t updated_at;
};

/* One validated answer, already normalised (csat "good" is 2). */
struct answer {
    int question;           /* index into survey.questions */
    int64_t number;         /* nps, csat, ces; yes_no as 0/1; choice: option index, or -1 for "other" */
    char *text;             /* text answers and the "other" write-in; NULL otherwise */
};

struct response {
    char id[32];
    char survey[SURVEY_ID_MAX + 1];
    int64_t submitted_at;
    int64_t received_at;
    char *channel, *customer, *agent, *interaction;   /* NULL when absent */
    struct answer *answers;
    int answer_count;
    char *answers_json;     /* canonical JSON object of the answers, as stored */
    char *properties_json;  /* canonical JSON object, or NULL */
};

/* A validated POST /v1/surveys/{survey}/invitations body. */
#define INVITATION_EXPIRES_DEFAULT_S (7 * 86400)
#define INVITATION_EXPIRES_MIN_S 60
#define INVITATION_EXPIRES_MAX_S (90 * 86400)
#define INVITATION_EMAIL_MAX 254

struct invitation_request {
    char *customer;                             /* required */
    char *channel, *agent, *interaction;        /* NULL when absent */
    char *properties_json;                      /* canonical JSON object, or NULL */
    int64_t expires_in_s;
    char *email;                                /* send.email, or NULL: nothing to send */
};

void survey_invitation_request_free(struct invitation_request *request);

const char *survey_question_type_name(enum question_type type);
const struct question *survey_find_question(const struct survey *survey, const char *id, int *index_out);

void survey_free(struct survey *survey);

/* A deep copy; false (and *dst empty) when out of memory. */
bool survey_copy(const struct survey *src, struct survey *dst);
void survey_response_free(struct response *response);

#endif
