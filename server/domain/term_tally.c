#include "term_tally.h"

#include <stdlib.h>
#include <string.h>

#include "text_fold.h"

struct entry {
    char *term;                 /* NULL: free slot */
    size_t len;
    uint64_t segment, all;
    uint64_t last_doc;          /* the document that counted it last: once per response */
    bool is_term;               /* false: a stop word, one character or a number, never counted */
};

struct term_tally {
    const struct stop_words *stop;
    struct entry *slots;
    size_t size, used;          /* size: a power of two, at least twice used */
    uint64_t docs, segment_docs;
};

struct term_tally *term_tally_new(const struct stop_words *stop)
{
    struct term_tally *tally = calloc(1, sizeof *tally);
    if (tally == NULL)
        return NULL;
    tally->stop = stop;
    tally->size = 1024;
    tally->slots = calloc(tally->size, sizeof *tally->slots);
    if (tally->slots == NULL) {
        free(tally);
        return NULL;
    }
    return tally;
}

static uint64_t hash_of(const char *s, size_t len)
{
    uint64_t h = 1469598103934665603u;
    for (size_t i = 0; i < len; i++)
        h = (h ^ (unsigned char)s[i]) * 1099511628211u;
    return h;
}

static struct entry *slot_of(struct entry *slots, size_t size, const char *term, size_t len)
{
    size_t i = (size_t)hash_of(term, len) & (size - 1);
    while (slots[i].term && !(slots[i].len == len && memcmp(slots[i].term, term, len) == 0))
        i = (i + 1) & (size - 1);
    return &slots[i];
}

static bool grow(struct term_tally *tally)
{
    size_t size = tally->size * 2;
    struct entry *slots = calloc(size, sizeof *slots);
    if (slots == NULL)
        return false;
    for (size_t i = 0; i < tally->size; i++) {
        if (tally->slots[i].term)
            *slot_of(slots, size, tally->slots[i].term, tally->slots[i].len) = tally->slots[i];
    }
    free(tally->slots);
    tally->slots = slots;
    tally->size = size;
    return true;
}

bool term_tally_is_term(const struct stop_words *stop, const char *folded, size_t len)
{
    size_t chars = 0, digits = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char b = (unsigned char)folded[i];
        chars += (b & 0xC0) != 0x80;
        digits += b >= '0' && b <= '9';
    }
    if (chars <= 1 || digits == len)
        return false;
    return stop == NULL || !stop_words_contains(stop, folded, len);
}

/* Every distinct token gets an entry, terms or not, so that the stop word list is searched once
 * per distinct token rather than once per occurrence (it was an eighth of a request's time). */
static bool count_token(struct term_tally *tally, const char *term, size_t len, bool in_segment)
{
    if (2 * (tally->used + 1) > tally->size && !grow(tally))
        return false;
    struct entry *e = slot_of(tally->slots, tally->size, term, len);
    if (e->term == NULL) {
        e->term = malloc(len + 1);
        if (e->term == NULL)
            return false;
        memcpy(e->term, term, len);
        e->term[len] = '\0';
        e->len = len;
        e->is_term = term_tally_is_term(tally->stop, term, len);
        tally->used++;
    }
    if (!e->is_term || e->last_doc == tally->docs)
        return true;
    e->last_doc = tally->docs;
    e->all++;
    e->segment += in_segment;
    return true;
}

bool term_tally_add(struct term_tally *tally, const char *doc, size_t len, bool in_segment)
{
    struct text_fold_cursor cursor;
    struct text_fold_token token;
    int got;
    bool ok = true;

    tally->docs++; /* numbers this document: last_doc 0 is never a real one */
    tally->segment_docs += in_segment;
    text_fold_cursor_init(&cursor, doc, len);
    while (ok && (got = text_fold_next(&cursor, &token)) == 1)
        ok = count_token(tally, token.folded, token.folded_length, in_segment);
    text_fold_cursor_free(&cursor);
    return ok && got == 0;
}

uint64_t term_tally_responses(const struct term_tally *tally)
{
    return tally->docs;
}

uint64_t term_tally_segment_responses(const struct term_tally *tally)
{
    return tally->segment_docs;
}

static bool ranks_before(const struct entry *a, const struct entry *b)
{
    if (a->segment != b->segment)
        return a->segment > b->segment;
    return strcmp(a->term, b->term) < 0;
}

/* Keeps the best max entries in out by insertion: max is small (the reply's limit, at most a few
 * hundred), so this costs O(terms * max) at worst and needs no copy of the whole table. */
bool term_tally_top(const struct term_tally *tally, struct term_count *out, size_t max, size_t *count)
{
    const struct entry **best = calloc(max ? max : 1, sizeof *best);
    size_t n = 0;

    *count = 0;
    if (best == NULL)
        return false;
    for (size_t i = 0; i < tally->size; i++) {
        const struct entry *e = &tally->slots[i];
        if (e->term == NULL || e->segment == 0)
            continue;
        if (n == max && (max == 0 || !ranks_before(e, best[n - 1])))
            continue;
        size_t at = n < max ? n++ : n - 1;
        while (at > 0 && ranks_before(e, best[at - 1])) {
            best[at] = best[at - 1];
            at--;
        }
        best[at] = e;
    }
    for (size_t i = 0; i < n; i++)
        out[i] = (struct term_count){best[i]->term, best[i]->segment, best[i]->all};
    free(best);
    *count = n;
    return true;
}

void term_tally_free(struct term_tally *tally)
{
    if (tally == NULL)
        return;
    for (size_t i = 0; i < tally->size; i++)
        free(tally->slots[i].term);
    free(tally->slots);
    free(tally);
}
