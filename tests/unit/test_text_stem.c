/* text_stem: Snowball's English stemmer through libstemmer, on folded tokens, whole documents and
 * queries, and highlighting that finds the forms of a word the stemmed index finds. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "text_query.h"
#include "text_stem.h"

static void assert_stem(const char *word, const char *want)
{
    char *got = text_stem(TEXT_LANGUAGE_ENGLISH, word, strlen(word));
    ck_assert_ptr_nonnull(got);
    ck_assert_str_eq(got, want);
    free(got);
}

START_TEST(english_stems)
{
    /* Snowball's published English examples (porter2): forms of one word meet in one stem. */
    assert_stem("refunds", "refund");
    assert_stem("refunded", "refund");
    assert_stem("refunding", "refund");
    assert_stem("delivered", "deliv");
    assert_stem("delivery", "deliveri");
    assert_stem("generously", "generous");
    assert_stem("caresses", "caress");
    char *same = text_stem(TEXT_LANGUAGE_NONE, "refunds", 7);
    ck_assert_str_eq(same, "refunds");
    free(same);
}
END_TEST

START_TEST(documents_are_folded_then_stemmed)
{
    char *doc = text_stem_document(TEXT_LANGUAGE_ENGLISH, "Crème REFUNDED, e-mail's!", strlen("Crème REFUNDED, e-mail's!"));
    ck_assert_str_eq(doc, "creme refund e mail s");
    free(doc);
    doc = text_stem_document(TEXT_LANGUAGE_NONE, "Crème REFUNDED", strlen("Crème REFUNDED"));
    ck_assert_str_eq(doc, "creme refunded");
    free(doc);
    doc = text_stem_document(TEXT_LANGUAGE_ENGLISH, " -- ", 4);
    ck_assert_str_eq(doc, "");
    free(doc);
}
END_TEST

static struct text_query *parse(const char *q)
{
    struct text_query *query = NULL;
    struct text_query_error error;
    ck_assert_int_eq(text_query_parse(q, strlen(q), &query, &error), TEXT_QUERY_OK);
    return query;
}

START_TEST(queries_stem_all_but_prefixes)
{
    struct text_query *query = parse("refunds \"delivered late\" deliveries* NOT cancelled");
    ck_assert(text_query_stem(query, TEXT_LANGUAGE_ENGLISH));
    char *fts5 = text_query_fts5(query);
    ck_assert_str_eq(fts5, "((\"refund\" AND \"deliv\" + \"late\" AND \"deliveries\" *) NOT \"cancel\")");
    free(fts5);
    text_query_free(query);
}
END_TEST

START_TEST(highlights_follow_the_stems)
{
    struct text_query *query = parse("refunds");
    ck_assert(text_query_stem(query, TEXT_LANGUAGE_ENGLISH));
    const char *text = "I was refunded, then REFUNDING again; a refuge?";
    struct text_query_match *m = NULL;
    size_t n = 0;
    ck_assert(text_query_matches(query, text, strlen(text), &m, &n));
    ck_assert_uint_eq(n, 2); /* refuge stems to "refug" */
    ck_assert_uint_eq(m[0].char_start, 6);
    ck_assert_uint_eq(m[0].char_length, 8);
    ck_assert_uint_eq(m[1].char_start, 21);
    ck_assert_uint_eq(m[1].char_length, 9);
    free(m);
    text_query_free(query);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("text_stem");
    TCase *tc = tcase_create("english");
    tcase_add_test(tc, english_stems);
    tcase_add_test(tc, documents_are_folded_then_stemmed);
    tcase_add_test(tc, queries_stem_all_but_prefixes);
    tcase_add_test(tc, highlights_follow_the_stems);
    suite_add_tcase(s, tc);
    SRunner *runner = srunner_create(s);
    srunner_run_all(runner, CK_NORMAL);
    int failed = srunner_ntests_failed(runner);
    srunner_free(runner);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
