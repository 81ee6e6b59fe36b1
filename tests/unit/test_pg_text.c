/* postgres_text.c's tsvector literals, checked against literals written out by hand: the tokens
 * FTS5's unicode61 remove_diacritics 2 makes (folded, diacritics gone), positions running on
 * across a document's answers (so phrases behave as FTS5's), --text-language stems, and
 * PostgreSQL's limits (positions up to 16383, lexemes under 2 KiB). No server needed. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "postgres_internal.h"

static void assert_tsvector(enum text_language language, const char *text, const char *want)
{
    char *got = pg_text_tsvector(language, text);
    ck_assert_ptr_nonnull(got);
    ck_assert_str_eq(got, want);
    free(got);
}

START_TEST(tokens_and_positions)
{
    assert_tsvector(TEXT_LANGUAGE_NONE, "Crème brûlée", "'creme':1 'brulee':2");
    /* Two answers joined by "\n": the second one's tokens go on counting. */
    assert_tsvector(TEXT_LANGUAGE_NONE, "it's late\nCAFÉ e-mail", "'it':1 's':2 'late':3 'cafe':4 'e':5 'mail':6");
    assert_tsvector(TEXT_LANGUAGE_NONE, "Ærø 3.5 naïve", "'ærø':1 '3':2 '5':3 'naive':4");
    /* No token at all: nothing to index. */
    assert_tsvector(TEXT_LANGUAGE_NONE, "!!! -- …", "");
    assert_tsvector(TEXT_LANGUAGE_NONE, "", "");
}
END_TEST

START_TEST(stems)
{
    assert_tsvector(TEXT_LANGUAGE_ENGLISH, "Refunded deliveries", "'refund':1 'deliveri':2");
    assert_tsvector(TEXT_LANGUAGE_NONE, "Refunded deliveries", "'refunded':1 'deliveries':2");
}
END_TEST

START_TEST(limits)
{
    /* A lexeme of 2 047 bytes or more is left out, and keeps its position. */
    size_t n = 3000;
    char *text = malloc(n + 5);
    ck_assert_ptr_nonnull(text);
    memcpy(text, "a ", 2);
    memset(text + 2, 'x', n);
    memcpy(text + 2 + n, " b", 3);
    assert_tsvector(TEXT_LANGUAGE_NONE, text, "'a':1 'b':3");
    free(text);

    /* Positions past 16 383 count as 16 383 (what PostgreSQL does with its own input). */
    size_t words = 16390;
    char *many = malloc(words * 2 + 1);
    ck_assert_ptr_nonnull(many);
    for (size_t i = 0; i < words; i++)
        memcpy(many + 2 * i, "w ", 2);
    many[words * 2] = '\0';
    char *got = pg_text_tsvector(TEXT_LANGUAGE_NONE, many);
    ck_assert_ptr_nonnull(got);
    ck_assert_ptr_nonnull(strstr(got, "'w':16382 'w':16383 'w':16383"));
    ck_assert_ptr_null(strstr(got, "16384"));
    size_t len = strlen(got);
    ck_assert_str_eq(got + len - 10, " 'w':16383");
    free(got);
    free(many);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("pg_text");
    TCase *tc = tcase_create("tsvector");
    tcase_add_test(tc, tokens_and_positions);
    tcase_add_test(tc, stems);
    tcase_add_test(tc, limits);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
