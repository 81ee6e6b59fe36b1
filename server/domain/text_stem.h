/* Optional stemming of folded tokens (--text-language, docs/search.md "Stemming"): Snowball's
 * stemmers through Debian's libstemmer, so that "refunds", "refunded" and "refunding" are one word
 * for search, highlighting and topics. The index and the queries must stem alike: both go through
 * here. Pure apart from a stemmer per thread (libstemmer's are not shared between threads). */
#ifndef SURVEYD_TEXT_STEM_H
#define SURVEYD_TEXT_STEM_H

#include <stdbool.h>
#include <stddef.h>

enum text_language {
    TEXT_LANGUAGE_NONE,         /* no stemming: tokens as text_fold makes them */
    TEXT_LANGUAGE_ENGLISH,      /* Snowball's "english" (Porter 2) */
};

/* "none" or "english"; false for anything else. */
bool text_language_parse(const char *name, enum text_language *out);
const char *text_language_name(enum text_language language);

/* The stem of one folded token into a malloc'd, NUL-terminated string (a copy of the token with
 * TEXT_LANGUAGE_NONE); NULL when out of memory. */
char *text_stem(enum text_language language, const char *token, size_t len);

/* text's tokens (text_fold.h), each folded and stemmed, joined by single spaces: what the index is
 * fed for a document, so that FTS5's own tokenizer finds exactly these tokens again. malloc'd;
 * NULL when out of memory. */
char *text_stem_document(enum text_language language, const char *text, size_t len);

#endif
