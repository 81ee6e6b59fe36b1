/* Counts the terms of a set of responses: how many responses use each term, among all of them and
 * among those of one segment (detractors, say). A term is a token as the text index sees it
 * (text_fold.h), counted once per response however often it occurs there, unless it is a stop
 * word, a single character or a number (digits only). Pure: documents in, counts out. */
#ifndef SURVEYD_TERM_TALLY_H
#define SURVEYD_TERM_TALLY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "stop_words.h"

struct term_tally;

/* stop may be NULL (no stop words); it must outlive the tally. NULL when out of memory. */
struct term_tally *term_tally_new(const struct stop_words *stop);

/* Adds one response's document (response_text.h), in the segment or not. A response without text
 * must not be added: it counts in no total. False when out of memory. */
bool term_tally_add(struct term_tally *tally, const char *doc, size_t len, bool in_segment);

/* Responses added, all of them and those in the segment. */
uint64_t term_tally_responses(const struct term_tally *tally);
uint64_t term_tally_segment_responses(const struct term_tally *tally);

/* Whether a folded token counts as a term (not a stop word, not one character, not a number). */
bool term_tally_is_term(const struct stop_words *stop, const char *folded, size_t len);

struct term_count {
    const char *term;           /* folded; valid as long as the tally */
    uint64_t segment;           /* responses in the segment using it */
    uint64_t all;               /* responses using it */
};

/* The terms used in the segment, by segment count descending then term (bytewise, which is code
 * point order) ascending: up to max into out, how many in *n. False when out of memory. */
bool term_tally_top(const struct term_tally *tally, struct term_count *out, size_t max, size_t *n);

void term_tally_free(struct term_tally *tally);

#endif
