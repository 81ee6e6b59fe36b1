/* stop_words and term_tally: what counts as a term, once per response, and the ranking. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "stop_words.h"
#include "term_tally.h"

static bool stop(const struct stop_words *w, const char *term)
{
    return stop_words_contains(w, term, strlen(term));
}

START_TEST(builtin_list)
{
    struct stop_words *w = stop_words_builtin();
    ck_assert_ptr_nonnull(w);
    ck_assert(stop(w, "the") && stop(w, "don") && stop(w, "would") && stop(w, "yourselves") && stop(w, "a"));
    ck_assert(!stop(w, "refund") && !stop(w, "th") && !stop(w, "thee") && !stop(w, ""));
    ck_assert_uint_gt(stop_words_count(w), 150);
    ck_assert_uint_lt(stop_words_count(w), 300);
    stop_words_free(w);
}
END_TEST

START_TEST(file_is_folded_tokens)
{
    char path[] = "/tmp/stop-words-XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    const char *text = "# a comment: the\nCAFÉ, Don't\n\n  slow\r\ncafe\n";
    ck_assert_int_eq(write(fd, text, strlen(text)), (int)strlen(text));
    close(fd);
    char err[256];
    struct stop_words *w = stop_words_load(path, err, sizeof err);
    ck_assert_ptr_nonnull(w);
    ck_assert(stop(w, "cafe") && stop(w, "don") && stop(w, "t") && stop(w, "slow"));
    ck_assert(!stop(w, "the") && !stop(w, "comment"));
    ck_assert_uint_eq(stop_words_count(w), 4);
    stop_words_free(w);
    unlink(path);
    ck_assert_ptr_null(stop_words_load(path, err, sizeof err));
    ck_assert_ptr_nonnull(strstr(err, "cannot read the stop words file"));
}
END_TEST

START_TEST(what_is_a_term)
{
    ck_assert(!term_tally_is_term(NULL, "x", 1));
    ck_assert(!term_tally_is_term(NULL, "\xc3\xa9", 2));   /* one character, two bytes */
    ck_assert(!term_tally_is_term(NULL, "2024", 4));
    ck_assert(term_tally_is_term(NULL, "x2", 2));
    ck_assert(term_tally_is_term(NULL, "ok", 2));
}
END_TEST

START_TEST(once_per_response_and_ranked)
{
    struct stop_words *w = stop_words_builtin();
    struct term_tally *t = term_tally_new(w);
    const char *docs[] = {"Slow slow SLOW delivery", "the délivery was late", "late\nrefund", "Refund!"};
    const bool seg[] = {true, true, false, true};
    for (int i = 0; i < 4; i++)
        ck_assert(term_tally_add(t, docs[i], strlen(docs[i]), seg[i]));
    ck_assert_uint_eq(term_tally_responses(t), 4);
    ck_assert_uint_eq(term_tally_segment_responses(t), 3);
    struct term_count top[10];
    size_t n;
    ck_assert(term_tally_top(t, top, 10, &n));
    ck_assert_uint_eq(n, 4);
    /* delivery 2, then ties at 1 by term: late, refund, slow. */
    ck_assert_str_eq(top[0].term, "delivery");
    ck_assert_uint_eq(top[0].segment, 2);
    ck_assert_str_eq(top[1].term, "late");
    ck_assert_uint_eq(top[1].all, 2);
    ck_assert_str_eq(top[2].term, "refund");
    ck_assert_uint_eq(top[2].all, 2);
    ck_assert_str_eq(top[3].term, "slow");
    ck_assert_uint_eq(top[3].segment, 1);
    ck_assert(term_tally_top(t, top, 2, &n));
    ck_assert_uint_eq(n, 2);
    ck_assert_str_eq(top[1].term, "late");
    term_tally_free(t);
    stop_words_free(w);
}
END_TEST

/* Many distinct terms: the table grows and keeps every count. */
START_TEST(growth)
{
    struct term_tally *t = term_tally_new(NULL);
    char doc[64];
    for (int i = 0; i < 5000; i++) {
        int len = snprintf(doc, sizeof doc, "w%d w%d common", i, i / 2);
        ck_assert(term_tally_add(t, doc, (size_t)len, i % 2 == 0));
    }
    struct term_count top[3];
    size_t n;
    ck_assert(term_tally_top(t, top, 3, &n));
    ck_assert_uint_eq(n, 3);
    ck_assert_str_eq(top[0].term, "common");
    ck_assert_uint_eq(top[0].segment, 2500);
    ck_assert_uint_eq(top[0].all, 5000);
    /* w<k> is in docs k, 2k and 2k + 1, the even ones in the segment: an even k gives 2, and "w10"
     * is the first of those bytewise ("w0" is in doc 0 only once: 1). */
    ck_assert_str_eq(top[1].term, "w10");
    ck_assert_uint_eq(top[1].segment, 2);
    ck_assert_uint_eq(top[1].all, 3);
    term_tally_free(t);
}
END_TEST

static Suite *terms_suite(void)
{
    Suite *s = suite_create("terms");
    TCase *tc = tcase_create("terms");
    tcase_add_test(tc, builtin_list);
    tcase_add_test(tc, file_is_folded_tokens);
    tcase_add_test(tc, what_is_a_term);
    tcase_add_test(tc, once_per_response_and_ranked);
    tcase_add_test(tc, growth);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *runner = srunner_create(terms_suite());
    srunner_run_all(runner, CK_NORMAL);
    int failed = srunner_ntests_failed(runner);
    srunner_free(runner);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
