#include "text_stem.h"

#include <libstemmer.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "text_buffer.h"
#include "text_fold.h"

/* One English stemmer per thread, made on first use and freed when the thread ends. */
static pthread_key_t stemmer_key;
static pthread_once_t stemmer_once = PTHREAD_ONCE_INIT;

static void stemmer_free(void *stemmer)
{
    sb_stemmer_delete(stemmer);
}

static void stemmer_key_create(void)
{
    pthread_key_create(&stemmer_key, stemmer_free);
}

static struct sb_stemmer *english_stemmer(void)
{
    pthread_once(&stemmer_once, stemmer_key_create);
    struct sb_stemmer *stemmer = pthread_getspecific(stemmer_key);
    if (stemmer == NULL && (stemmer = sb_stemmer_new("english", "UTF_8")) != NULL &&
        pthread_setspecific(stemmer_key, stemmer) != 0) {
        sb_stemmer_delete(stemmer);
        stemmer = NULL;
    }
    return stemmer;
}

bool text_language_parse(const char *name, enum text_language *out)
{
    if (strcmp(name, "none") == 0)
        *out = TEXT_LANGUAGE_NONE;
    else if (strcmp(name, "english") == 0)
        *out = TEXT_LANGUAGE_ENGLISH;
    else
        return false;
    return true;
}

const char *text_language_name(enum text_language language)
{
    return language == TEXT_LANGUAGE_ENGLISH ? "english" : "none";
}

char *text_stem(enum text_language language, const char *token, size_t len)
{
    const char *out = token;
    size_t out_len = len;
    if (language == TEXT_LANGUAGE_ENGLISH) {
        struct sb_stemmer *stemmer = english_stemmer();
        const sb_symbol *stem = stemmer ? sb_stemmer_stem(stemmer, (const sb_symbol *)token, (int)len) : NULL;
        if (stem == NULL)
            return NULL;
        out = (const char *)stem;
        out_len = (size_t)sb_stemmer_length(stemmer);
    }
    char *copy = malloc(out_len + 1);
    if (copy) {
        memcpy(copy, out, out_len);
        copy[out_len] = '\0';
    }
    return copy;
}

char *text_stem_document(enum text_language language, const char *text, size_t len)
{
    struct text_buffer doc = {0};
    struct text_fold_cursor cursor;
    struct text_fold_token token;
    int more;

    text_fold_cursor_init(&cursor, text, len);
    while ((more = text_fold_next(&cursor, &token)) == 1) {
        char *stem = text_stem(language, token.folded, token.folded_length);
        if (stem == NULL) {
            more = -1;
            break;
        }
        if (doc.len > 0)
            text_buffer_append(&doc, " ", 1);
        text_buffer_put(&doc, stem);
        free(stem);
    }
    text_fold_cursor_free(&cursor);
    if (more != 0) {
        free(text_buffer_finish(&doc, NULL));
        return NULL;
    }
    /* A document of punctuation only has no tokens: an empty string, not "nothing appended". */
    if (doc.data == NULL && !doc.failed)
        return strdup("");
    return text_buffer_finish(&doc, NULL);
}
