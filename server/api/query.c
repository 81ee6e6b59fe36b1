#include "query.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ids.h"
#include "timefmt.h"

#define OPAQUE_MAX 128
#define CHANNEL_MAX 32

static const char *const group_names[] = {
    [GROUP_NONE] = "", [GROUP_DAY] = "day", [GROUP_WEEK] = "week",
    [GROUP_MONTH] = "month", [GROUP_CHANNEL] = "channel", [GROUP_AGENT] = "agent",
    [GROUP_TOPIC] = "topic",
};

static bool channel_valid(const char *s)
{
    size_t len = strlen(s);
    if (len == 0 || len > CHANNEL_MAX)
        return false;
    for (size_t i = 0; i < len; i++) {
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '_' || s[i] == '-'))
            return false;
    }
    return true;
}

static const char *const param_names[] = {"from", "to", "channel", "agent", "customer", "interaction",
                                          "group_by", "compare", "limit", "cursor", "format", "q", "sort", "topic"};

static void unknown_parameter(const char *field, unsigned allowed, struct validate_errors *errors)
{
    char known[160] = "";
    size_t len = 0;
    for (size_t i = 0; i < sizeof param_names / sizeof param_names[0]; i++) {
        if (allowed & (1u << i))
            len += (size_t)snprintf(known + len, sizeof known - len, "%s%s", len ? ", " : "", param_names[i]);
    }
    validate_error(errors, field, "unknown parameter (known: %s)", len ? known : "none");
}

/* The code point of the UTF-8 sequence at s (its length in *len), or -1 when the sequence is not
 * well-formed (RFC 3629: no overlongs, no surrogates, nothing above U+10FFFF). */
static long utf8_decode(const unsigned char *s, size_t *len)
{
    static const long min_of[] = {0, 0, 0x80, 0x800, 0x10000};
    size_t n = s[0] < 0x80 ? 1 : (s[0] & 0xE0) == 0xC0 ? 2 : (s[0] & 0xF0) == 0xE0 ? 3 : (s[0] & 0xF8) == 0xF0 ? 4 : 0;
    if (n == 0)
        return -1;
    long cp = n == 1 ? s[0] : s[0] & (0x7F >> n);
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return -1; /* also stops at the terminating NUL */
        cp = cp << 6 | (s[i] & 0x3F);
    }
    if (cp < min_of[n] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
        return -1;
    *len = n;
    return cp;
}

/* A filter value is compared byte for byte with stored text, which strict JSON guarantees to be
 * valid UTF-8. Control characters (C0, DEL, C1) have no business in an agent, customer or
 * interaction filter; refusing them (and malformed UTF-8) keeps odd bytes out of cache keys, logs
 * and SQL parameters altogether. */
static bool parse_opaque(const char *v, const char *field, struct validate_errors *errors)
{
    size_t chars = 0;
    for (const unsigned char *p = (const unsigned char *)v; *p; chars++) {
        size_t len = 0;
        long cp = utf8_decode(p, &len);
        if (cp < 0 || cp < 0x20 || (cp >= 0x7F && cp <= 0x9F)) {
            validate_error(errors, field, "must be valid UTF-8 without control characters");
            return false;
        }
        p += len;
    }
    if (chars >= 1 && chars <= OPAQUE_MAX)
        return true;
    validate_error(errors, field, "must be 1 to %d characters", OPAQUE_MAX);
    return false;
}

/* q=: valid UTF-8 without control characters; its syntax and size are text_query_parse's to judge
 * (with the position of what is wrong). */
static bool parse_text(const char *v, const char *field, struct validate_errors *errors)
{
    for (const unsigned char *p = (const unsigned char *)v; *p;) {
        size_t len = 0;
        long cp = utf8_decode(p, &len);
        if (cp < 0 || (cp < 0x20 && cp != '\t') || (cp >= 0x7F && cp <= 0x9F)) {
            validate_error(errors, field, "must be valid UTF-8 without control characters");
            return false;
        }
        p += len;
    }
    return true;
}

static void parse_limit(const char *v, const char *field, struct query *q, struct validate_errors *errors)
{
    int64_t n = 0;
    size_t len = strlen(v);
    bool ok = len >= 1 && len <= 4;
    for (size_t i = 0; ok && i < len; i++) {
        ok = v[i] >= '0' && v[i] <= '9';
        n = n * 10 + (v[i] - '0');
    }
    if (!ok || n < 1 || n > QUERY_LIMIT_MAX) {
        validate_error(errors, field, "must be an integer from 1 to %d", QUERY_LIMIT_MAX);
        return;
    }
    q->has_limit = true;
    q->limit = n;
}

static void parse_one(const struct query_param *p, unsigned allowed, struct query *q, struct validate_errors *errors)
{
    const char *v = p->value ? p->value : "";
    char field[80];
    unsigned bit = 0;

    snprintf(field, sizeof field, "%.*s", validate_utf8_cut(p->name, 64), p->name);
    for (size_t i = 0; i < sizeof param_names / sizeof param_names[0]; i++) {
        if (strcmp(p->name, param_names[i]) == 0)
            bit = 1u << i;
    }
    if (!(bit & allowed)) {
        unknown_parameter(field, allowed, errors);
        return;
    }
    if (bit == QUERY_FROM || bit == QUERY_TO) {
        int64_t ms;
        if (!timefmt_parse_instant(v, &ms)) {
            validate_error(errors, field, "must be a date (2026-11-02) or an RFC 3339 date-time (2026-11-02T14:00:00Z)");
        } else if (ms < 0) {
            /* A valid date, but no response can predate the epoch: say so, not that it is malformed. */
            validate_error(errors, field, "must not be before 1970-01-01 (no response can be older)");
        } else if (p->name[0] == 'f') {
            q->has_from = true;
            q->from_ms = ms;
        } else {
            q->has_to = true;
            q->to_ms = ms;
        }
    } else if (bit == QUERY_CHANNEL) {
        if (channel_valid(v))
            q->channel = v;
        else
            validate_error(errors, field, "must be 1-32 characters of a-z, 0-9, '_' and '-'");
    } else if (bit == QUERY_AGENT) {
        q->agent = parse_opaque(v, field, errors) ? v : NULL;
    } else if (bit == QUERY_CUSTOMER) {
        q->customer = parse_opaque(v, field, errors) ? v : NULL;
    } else if (bit == QUERY_INTERACTION) {
        q->interaction = parse_opaque(v, field, errors) ? v : NULL;
    } else if (bit == QUERY_LIMIT) {
        parse_limit(v, field, q, errors);
    } else if (bit == QUERY_CURSOR) {
        if (query_cursor_decode(v, &q->cursor_ms, q->cursor_id))
            q->has_cursor = true;
        else if (query_offset_cursor_decode(v, &q->cursor_offset))
            q->has_offset_cursor = true;
        else
            validate_error(errors, field, "is not a cursor from a previous page (pass next_cursor back unchanged)");
    } else if (bit == QUERY_FORMAT) {
        if (strcmp(v, "json") == 0)
            q->format = FORMAT_JSON;
        else if (strcmp(v, "csv") == 0)
            q->format = FORMAT_CSV;
        else if (strcmp(v, "ndjson") == 0)
            q->format = FORMAT_NDJSON;
        else
            validate_error(errors, field, "must be json, csv or ndjson");
    } else if (bit == QUERY_TEXT) {
        q->text = parse_text(v, field, errors) ? v : NULL;
    } else if (bit == QUERY_TOPIC) {
        if (ids_valid_slug(v))
            q->topic = v;
        else
            validate_error(errors, field, "must be a topic id: 1-64 characters of a-z, 0-9, '_' and '-', starting with a letter or digit");
    } else if (bit == QUERY_SORT) {
        if (strcmp(v, "relevance") == 0 || strcmp(v, "newest") == 0)
            q->sort_relevance = v[0] == 'r';
        else
            validate_error(errors, field, "must be newest or relevance");
    } else if (bit == QUERY_GROUP_BY) {
        q->group_by = GROUP_NONE;
        for (int g = GROUP_DAY; g <= GROUP_TOPIC; g++) {
            if (strcmp(v, group_names[g]) == 0)
                q->group_by = (enum query_group_by)g;
        }
        if (q->group_by == GROUP_NONE)
            validate_error(errors, field, "must be one of day, week, month, channel, agent, topic");
    } else if (bit == QUERY_COMPARE) {
        if (strcmp(v, "previous") == 0)
            q->compare_previous = true;
        else
            validate_error(errors, field, "must be previous");
    }
}

bool query_parse(const struct query_param *params, int count, unsigned allowed, struct query *q,
                 struct validate_errors *errors)
{
    int before = errors->count;

    memset(q, 0, sizeof *q);
    q->from_ms = INT64_MIN;
    q->to_ms = INT64_MAX;
    q->limit = QUERY_LIMIT_DEFAULT;
    for (int i = 0; i < count; i++) {
        bool repeated = false;
        for (int j = 0; j < i; j++)
            repeated |= strcmp(params[i].name, params[j].name) == 0;
        if (repeated)
            validate_error(errors, params[i].name, "given more than once");
        else
            parse_one(&params[i], allowed, q, errors);
    }
    if (q->has_from && q->has_to && q->from_ms >= q->to_ms)
        validate_error(errors, "to", "must be later than from");
    if (q->sort_relevance && q->text == NULL)
        validate_error(errors, "sort", "sort=relevance needs q (a search)");
    if (q->has_offset_cursor && !q->sort_relevance)
        validate_error(errors, "cursor", "is a cursor of a sort=relevance page: pass the same sort and q again");
    if (q->has_cursor && q->sort_relevance)
        validate_error(errors, "cursor", "is a cursor of a newest-first page, not of a sort=relevance one");
    if (q->compare_previous && !(q->has_from && q->has_to))
        validate_error(errors, "compare", "compare=previous needs both from and to");
    return errors->count == before;
}

/* Appends one field as "<length>:<bytes>", or "-" when absent. The length prefix makes the
 * encoding injective: no value, whatever bytes it holds, can end its field early or stand for
 * "absent", so two different queries never share a key. */
static void key_field(char *out, size_t *o, const char *value)
{
    if (value == NULL) {
        out[(*o)++] = '-';
        return;
    }
    size_t len = strlen(value);
    *o += (size_t)sprintf(out + *o, "%zu:", len);
    memcpy(out + *o, value, len);
    *o += len;
}

char *query_key(const char *survey, const struct query *q)
{
    /* Sized from the actual values: nothing is ever cut off. */
    size_t size = 256 + strlen(survey) + (q->channel ? strlen(q->channel) : 0) + (q->agent ? strlen(q->agent) : 0) +
                  (q->topic ? strlen(q->topic) : 0);
    char *out = malloc(size);
    size_t o = 0;

    if (out == NULL)
        return NULL;
    key_field(out, &o, survey);
    o += (size_t)sprintf(out + o, "|%lld|%lld|", (long long)q->from_ms, (long long)q->to_ms);
    key_field(out, &o, q->channel);
    key_field(out, &o, q->agent);
    key_field(out, &o, q->topic);
    o += (size_t)sprintf(out + o, "|%d|%d", (int)q->group_by, (int)q->compare_previous);
    out[o] = '\0';
    return out;
}

/* ---- cursors ---- */

static const char base64url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/* raw[0..len) as base64url without padding into out (NUL-terminated, cut to size). */
static void cursor_pack(const char *raw, int len, char *out, size_t size)
{
    size_t o = 0;
    for (int i = 0; i < len && o + 5 < size; i += 3) {
        unsigned chunk = (unsigned char)raw[i] << 16;
        if (i + 1 < len)
            chunk |= (unsigned char)raw[i + 1] << 8;
        if (i + 2 < len)
            chunk |= (unsigned char)raw[i + 2];
        out[o++] = base64url[chunk >> 18 & 63];
        out[o++] = base64url[chunk >> 12 & 63];
        if (i + 1 < len)
            out[o++] = base64url[chunk >> 6 & 63];
        if (i + 2 < len)
            out[o++] = base64url[chunk & 63];
    }
    out[o] = '\0';
}

void query_cursor_encode(int64_t submitted_at, const char *id, char *out, size_t size)
{
    char raw[64];
    int len = snprintf(raw, sizeof raw, "%lld.%.31s", (long long)submitted_at, id);
    cursor_pack(raw, len, out, size);
}

void query_offset_cursor_encode(int64_t offset, char *out, size_t size)
{
    char raw[32];
    int len = snprintf(raw, sizeof raw, "@%lld", (long long)offset);
    cursor_pack(raw, len, out, size);
}

/* A response id: 26 characters of lower-case base32. */
static bool response_id_valid(const char *id)
{
    size_t n = 0;
    for (; id[n]; n++) {
        if (!((id[n] >= 'a' && id[n] <= 'z') || (id[n] >= '2' && id[n] <= '7')))
            return false;
    }
    return n == 26;
}

static int base64url_value(char c)
{
    const char *p = c ? strchr(base64url, c) : NULL;
    return p ? (int)(p - base64url) : -1;
}

/* The text a cursor packs, into raw (room for 64 bytes); false when it is not base64url of at
 * most 60 bytes. */
static bool cursor_unpack(const char *cursor, char raw[64], size_t *raw_len)
{
    size_t len = strlen(cursor), o = 0;

    if (len == 0 || len > 80 || len % 4 == 1)
        return false;
    for (size_t i = 0; i < len; i += 4) {
        int v[4] = {0, 0, 0, 0}, n = 0;
        for (; n < 4 && i + (size_t)n < len; n++) {
            if ((v[n] = base64url_value(cursor[i + (size_t)n])) < 0)
                return false;
        }
        unsigned chunk = (unsigned)v[0] << 18 | (unsigned)v[1] << 12 | (unsigned)v[2] << 6 | (unsigned)v[3];
        for (int b = 0; b < n - 1; b++) {
            if (o + 1 >= 64)
                return false;
            raw[o++] = (char)(chunk >> (16 - 8 * b) & 0xff);
        }
    }
    raw[o] = '\0';
    *raw_len = o;
    return true;
}

bool query_offset_cursor_decode(const char *cursor, int64_t *offset)
{
    char raw[64];
    size_t o;
    if (!cursor_unpack(cursor, raw, &o) || o < 2 || o > 10 || raw[0] != '@' || strlen(raw) != o)
        return false;
    int64_t n = 0;
    for (size_t i = 1; i < o; i++) {
        if (raw[i] < '0' || raw[i] > '9')
            return false;
        n = n * 10 + (raw[i] - '0');
    }
    *offset = n;
    return true;
}

bool query_cursor_decode(const char *cursor, int64_t *submitted_at, char id[32])
{
    char raw[64];
    size_t o;

    if (!cursor_unpack(cursor, raw, &o))
        return false;
    /* "<ms>.<id>": ms a non-negative decimal that fits, id a response id. */
    char *dot = memchr(raw, '.', o);
    if (dot == NULL || dot == raw || dot - raw > 15)
        return false;
    int64_t ms = 0;
    for (char *p = raw; p < dot; p++) {
        if (*p < '0' || *p > '9')
            return false;
        ms = ms * 10 + (*p - '0');
    }
    if (!response_id_valid(dot + 1) || strlen(raw) != o)
        return false;
    *submitted_at = ms;
    snprintf(id, 32, "%s", dot + 1);
    return true;
}
