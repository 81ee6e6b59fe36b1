#include "stop_words.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "text_fold.h"

#define FILE_MAX (4 * 1024 * 1024)

struct stop_words {
    char **words;           /* folded, sorted bytewise, distinct */
    size_t count, cap;
};

/* English function words: the widely used NLTK list (which already has the pieces that text_fold
 * makes of contractions: "don", "ll", "ve", "didn", ...), plus a few words that fill comments
 * without naming anything ("also", "would", "could", "get", "got", "really", "even", "still", ...).
 * Tokens of one character and pure numbers are left out by api/terms.c whatever the list. */
static const char *const builtin[] = {
    "a", "about", "above", "after", "again", "against", "ain", "all", "also", "am", "an", "and", "any",
    "are", "aren", "as", "at", "be", "because", "been", "before", "being", "below", "between", "both",
    "but", "by", "can", "could", "couldn", "d", "did", "didn", "do", "does", "doesn", "doing", "don",
    "down", "during", "each", "else", "even", "ever", "every", "few", "for", "from", "further", "get",
    "gets", "got", "had", "hadn", "has", "hasn", "have", "haven", "having", "he", "her", "here", "hers",
    "herself", "him", "himself", "his", "how", "however", "i", "if", "in", "into", "is", "isn", "it",
    "its", "itself", "just", "ll", "m", "ma", "may", "me", "might", "mightn", "more", "most", "much",
    "must", "mustn", "my", "myself", "needn", "no", "nor", "not", "now", "o", "of", "off", "on", "once",
    "one", "only", "or", "other", "our", "ours", "ourselves", "out", "over", "own", "re", "really", "s",
    "same", "shall", "shan", "she", "should", "shouldn", "since", "so", "some", "still", "such", "t",
    "than", "that", "the", "their", "theirs", "them", "themselves", "then", "there", "these", "they",
    "this", "those", "though", "through", "to", "too", "under", "until", "up", "upon", "us", "ve", "very",
    "was", "wasn", "we", "were", "weren", "what", "when", "where", "whether", "which", "while", "who",
    "whom", "whose", "why", "will", "with", "won", "would", "wouldn", "y", "yet", "you", "your", "yours",
    "yourself", "yourselves",
};

static int compare_words(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool add_word(struct stop_words *words, const char *word, size_t len)
{
    if (words->count == words->cap) {
        size_t cap = words->cap ? words->cap * 2 : 256;
        char **grown = realloc(words->words, cap * sizeof *grown);
        if (grown == NULL)
            return false;
        words->words = grown;
        words->cap = cap;
    }
    char *copy = malloc(len + 1);
    if (copy == NULL)
        return false;
    memcpy(copy, word, len);
    copy[len] = '\0';
    words->words[words->count++] = copy;
    return true;
}

/* Sorted and without duplicates, for bsearch. */
static void finish(struct stop_words *words)
{
    if (words->count == 0)
        return;
    qsort(words->words, words->count, sizeof *words->words, compare_words);
    size_t kept = 1;
    for (size_t i = 1; i < words->count; i++) {
        if (strcmp(words->words[i], words->words[kept - 1]) == 0)
            free(words->words[i]);
        else
            words->words[kept++] = words->words[i];
    }
    words->count = kept;
}

/* Every token of text[0..len), folded. */
static bool add_tokens(struct stop_words *words, const char *text, size_t len)
{
    struct text_fold_cursor cursor;
    struct text_fold_token token;
    int got;
    bool ok = true;

    text_fold_cursor_init(&cursor, text, len);
    while (ok && (got = text_fold_next(&cursor, &token)) == 1)
        ok = add_word(words, token.folded, token.folded_length);
    text_fold_cursor_free(&cursor);
    return ok && got == 0;
}

struct stop_words *stop_words_builtin(void)
{
    struct stop_words *words = calloc(1, sizeof *words);
    if (words == NULL)
        return NULL;
    for (size_t i = 0; i < sizeof builtin / sizeof builtin[0]; i++) {
        if (!add_word(words, builtin[i], strlen(builtin[i]))) {
            stop_words_free(words);
            return NULL;
        }
    }
    finish(words);
    return words;
}

static char *read_file(const char *path, size_t *len, char *err, size_t err_size)
{
    FILE *f = fopen(path, "rb");
    char *data = NULL;

    if (f == NULL) {
        snprintf(err, err_size, "cannot read the stop words file %s: %s", path, strerror(errno));
        return NULL;
    }
    data = malloc(FILE_MAX + 1);
    if (data == NULL) {
        snprintf(err, err_size, "out of memory reading the stop words file %s", path);
        goto done;
    }
    *len = fread(data, 1, FILE_MAX + 1, f);
    if (ferror(f) || *len > FILE_MAX) {
        snprintf(err, err_size, "cannot read the stop words file %s: %s", path,
                 ferror(f) ? strerror(errno) : "larger than 4 MiB");
        free(data);
        data = NULL;
        goto done;
    }
    data[*len] = '\0';
done:
    fclose(f);
    return data;
}

static bool utf8_text(const char *data, size_t len)
{
    for (size_t at = 0; at < len;) {
        uint32_t c;
        size_t n = text_fold_decode(data + at, len - at, &c);
        if (n == 0 || c == 0)
            return false;
        at += n;
    }
    return true;
}

struct stop_words *stop_words_load(const char *path, char *err, size_t err_size)
{
    size_t len = 0;
    char *data = read_file(path, &len, err, err_size);
    struct stop_words *words = NULL;

    if (data == NULL)
        return NULL;
    if (!utf8_text(data, len)) {
        snprintf(err, err_size, "the stop words file %s is not UTF-8 text", path);
        goto done;
    }
    words = calloc(1, sizeof *words);
    for (char *line = data; words != NULL && line < data + len;) {
        char *end = memchr(line, '\n', (size_t)(data + len - line));
        size_t line_len = end ? (size_t)(end - line) : (size_t)(data + len - line);
        if (line[0] != '#' && !add_tokens(words, line, line_len)) {
            stop_words_free(words);
            words = NULL;
        }
        line += line_len + 1;
    }
    if (words == NULL)
        snprintf(err, err_size, "out of memory reading the stop words file %s", path);
    else
        finish(words);
done:
    free(data);
    return words;
}

bool stop_words_contains(const struct stop_words *words, const char *term, size_t len)
{
    size_t lo = 0, hi = words->count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const char *w = words->words[mid];
        size_t wlen = strlen(w);
        int c = memcmp(w, term, wlen < len ? wlen : len);
        if (c == 0)
            c = wlen < len ? -1 : wlen > len ? 1 : 0;
        if (c == 0)
            return true;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return false;
}

size_t stop_words_count(const struct stop_words *words)
{
    return words->count;
}

void stop_words_free(struct stop_words *words)
{
    if (words == NULL)
        return;
    for (size_t i = 0; i < words->count; i++)
        free(words->words[i]);
    free(words->words);
    free(words);
}
