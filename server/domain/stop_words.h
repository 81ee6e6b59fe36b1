/* Words too common to say anything about what a group of responses talks about: left out of the
 * terms report (api/terms.c). An English list is built in; an operator may replace it with a file
 * (--stop-words). Words are kept folded (text_fold.h), as the terms they are compared with. Pure
 * apart from reading that file once at start-up; read-only afterwards, so threads share it. */
#ifndef SURVEYD_STOP_WORDS_H
#define SURVEYD_STOP_WORDS_H

#include <stdbool.h>
#include <stddef.h>

struct stop_words;

/* The built-in English list; NULL when out of memory. */
struct stop_words *stop_words_builtin(void);

/* The words of a file: every token (text_fold) of every line, folded, so "Don't" stands for "don"
 * and "t"; lines starting with '#' are comments. NULL with a message in err when the file cannot
 * be read or is not UTF-8 text. An empty file is a valid, empty list. */
struct stop_words *stop_words_load(const char *path, char *err, size_t err_size);

/* Whether the folded term (len bytes) is a stop word. */
bool stop_words_contains(const struct stop_words *words, const char *term, size_t len);

/* How many distinct words the list holds. */
size_t stop_words_count(const struct stop_words *words);

void stop_words_free(struct stop_words *words);

#endif
