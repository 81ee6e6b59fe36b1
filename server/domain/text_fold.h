/* Words as SQLite FTS5's unicode61 tokenizer (remove_diacritics 2) sees them, so that what surveyd
 * searches for, highlights and counts is exactly what the index holds. Pure: bytes in, tokens out.
 *
 * A token is a run of token characters: letters, digits and private-use characters as SQLite 3.40
 * classifies them (its tables, read back out of SQLite by text_fold_gen.py, so they agree where
 * SQLite's older Unicode data differs from today's). Everything else separates. The combining
 * diacritics FTS5 removes (most of U+0300..U+0331) continue a token and fold to nothing; they can't
 * start one.
 *
 * Folding, per code point as FTS5 does it: upper to lower case (Latin, Greek, Cyrillic, Armenian,
 * Georgian, Glagolitic, Cherokee, Deseret, ...; ẞ → ß, and ß stays ß: FTS5 never expands one
 * character into two), and Latin letters with diacritics to their base letter (é ê è ë → e, ç → c,
 * ő → o, ș → s, ơ → o, ǅ → ǆ). Letters that are letters of their own, not a letter with a mark,
 * are only lower-cased: ø, ł, đ, æ, œ, ı (ıstanbul does not find istanbul). Greek and Cyrillic are
 * lower-cased and keep their accents (ά is not α, ё is not е), as in FTS5. */
#ifndef SURVEYD_TEXT_FOLD_H
#define SURVEYD_TEXT_FOLD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* True for a code point that starts a token (and so also continues one). */
bool text_fold_starts_token(uint32_t c);

/* True for a code point that continues a token once one has started (token characters and the
 * combining diacritics FTS5 removes). */
bool text_fold_continues_token(uint32_t c);

/* c folded; 0 when FTS5 drops it from the token (combining diacritics). Separators come back
 * unchanged. */
uint32_t text_fold_char(uint32_t c);

/* The code point at text[0..len) into *c; the number of bytes it takes, or 0 when the bytes are not
 * well-formed UTF-8 (overlong, surrogate, above U+10FFFF, cut short) or len is 0. */
size_t text_fold_decode(const char *text, size_t len, uint32_t *c);

/* c as UTF-8 into out (room for 4 bytes); the number of bytes. */
size_t text_fold_encode(uint32_t c, char *out);

/* text with every token folded; separators are kept as they are. malloc'd and NUL-terminated
 * (length in *out_len when not NULL); NULL when out of memory. Bytes that are not UTF-8 are
 * separators, copied through. */
char *text_fold(const char *text, size_t len, size_t *out_len);

/* One token of a text: where it is (in bytes and in code points) and what it folds to. */
struct text_fold_token {
    size_t byte_start, byte_length;
    size_t char_start, char_length;
    const char *folded;         /* NUL-terminated, valid until the next call on the cursor */
    size_t folded_length;       /* bytes */
};

/* Walks the tokens of a text from the start. Bytes that are not UTF-8 count as one separator
 * character each. */
struct text_fold_cursor {
    const char *text;
    size_t len, at, chars;
    char *buf;
    size_t cap;
};

void text_fold_cursor_init(struct text_fold_cursor *cursor, const char *text, size_t len);

/* 1: the next token is in *token; 0: no more; -1: out of memory. */
int text_fold_next(struct text_fold_cursor *cursor, struct text_fold_token *token);

void text_fold_cursor_free(struct text_fold_cursor *cursor);

#endif
