/*
 * Unit tests for server/outbound/webhook_sign.c: Standard Webhooks signatures.
 *
 * Expected values are not derived from the module: the reference vector is the one every Standard
 * Webhooks library tests against (standard-webhooks/standard-webhooks, in each of its libraries: secret
 * whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw, id msg_p5jXN8AQM9LWM0D4loKWxJek, timestamp 1614265330,
 * body {"test": 2432232314}), the others were computed with Python's hmac and base64:
 *
 *   k = base64.b64decode(secret[6:]); "v1," + base64.b64encode(hmac.new(k, f"{id}.{ts}.".encode() + body,
 *   hashlib.sha256).digest()).decode()
 */
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "webhook_sign.h"

#define REF_SECRET "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
#define REF_ID "msg_p5jXN8AQM9LWM0D4loKWxJek"
#define REF_TS INT64_C(1614265330)
#define REF_BODY "{\"test\": 2432232314}"
#define REF_SIG "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="

/* 20 key bytes 01..14 (one '=' of padding) and 25 key bytes 0x64..0x7c (two '='). */
#define PAD1_SECRET "whsec_AQIDBAUGBwgJCgsMDQ4PEBESExQ="
#define PAD2_SECRET "whsec_ZGVmZ2hpamtsbW5vcHFyc3R1dnd4eXp7fA=="
#define UTF8_BODY "{\"type\":\"response.created\",\"data\":{\"x\":\"\xc3\xa9\"}}"

static void expect_sig(const char *secret, const char *old, const char *id, int64_t ts, const char *body,
                       size_t len, const char *expected)
{
    char out[256];
    memset(out, 'x', sizeof out);
    ck_assert_msg(webhook_sign(secret, old, id, ts, body, len, out, sizeof out), "refused %s", secret);
    ck_assert_str_eq(out, expected);
}

START_TEST(reference_vector)
{
    expect_sig(REF_SECRET, NULL, REF_ID, REF_TS, REF_BODY, strlen(REF_BODY), REF_SIG);
}
END_TEST

START_TEST(python_values)
{
    expect_sig(PAD1_SECRET, NULL, "msg_01hzz", INT64_C(1794969000), UTF8_BODY, strlen(UTF8_BODY),
               "v1,WNEOLgJ5wNUrNuWTgyswUthT6z4n9yBUeSDvnidWxaQ=");
    expect_sig(PAD2_SECRET, NULL, "msg_01hzz", INT64_C(1794969000), UTF8_BODY, strlen(UTF8_BODY),
               "v1,YAK3x/CVrN3vlEdRzHpstlYiRjjsU0fsfEZ4k2nD4kU=");
    /* an empty body, timestamp 0 */
    expect_sig(PAD1_SECRET, NULL, "msg_a", 0, "", 0, "v1,3tJZb2wj4NLSVWLxz5ZEcUwRSgM3CJKwWibgnrYAcV0=");
    /* the body is bytes, a NUL inside included: its length counts, not strlen */
    expect_sig(PAD1_SECRET, NULL, "id", 1, "a\0b", 3, "v1,9M5GzU6/qGu8uRtE5dIaQORcMxiUt+1Gxkd6o9Ooc2g=");
    /* a 70-byte key ('==' padding): longer than SHA-256's block, so HMAC hashes it and a zero byte
     * left over from the padding would change the signature */
    expect_sig("whsec_AwoRGB8mLTQ7QklQV15lbHN6gYiPlp2kq7K5wMfO1dzj6vH4/wYNFBsiKTA3PkVMU1phaG92fYSLkpmgp661vMPK0djf5g==",
               NULL, "msg_long", INT64_C(1794969000), "{}", 2, "v1,rJtGf0iqbhSNHv054lMFBa2h6zRTfaNL7EQemGZ7xz0=");
}
END_TEST

START_TEST(padding_left_out)
{
    /* A secret written without its '=' padding decodes to the same key. */
    expect_sig("whsec_AQIDBAUGBwgJCgsMDQ4PEBESExQ", NULL, "msg_01hzz", INT64_C(1794969000), UTF8_BODY,
               strlen(UTF8_BODY), "v1,WNEOLgJ5wNUrNuWTgyswUthT6z4n9yBUeSDvnidWxaQ=");
    expect_sig("whsec_ZGVmZ2hpamtsbW5vcHFyc3R1dnd4eXp7fA", NULL, "msg_01hzz", INT64_C(1794969000), UTF8_BODY,
               strlen(UTF8_BODY), "v1,YAK3x/CVrN3vlEdRzHpstlYiRjjsU0fsfEZ4k2nD4kU=");
}
END_TEST

START_TEST(rotation_two_signatures)
{
    /* New secret first, then the old one, separated by one space. */
    expect_sig(PAD2_SECRET, REF_SECRET, REF_ID, REF_TS, REF_BODY, strlen(REF_BODY),
               "v1,6cAluZ7Rk1FfW26O85w/tgQ+QCKUOpcwUarJdRKntv4= " REF_SIG);
}
END_TEST

START_TEST(malformed_secrets)
{
    const char *bad[] = {
        NULL,
        "",
        "whsec_",
        "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",          /* no prefix */
        "whsec-MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSwA",    /* 33 characters: no base64 is that long */
        "whsec_MfKQ9r8GKYqrTwjU*D8ILPZIo2LaLaSw",     /* not in the alphabet */
        "whsec_MfKQ9r8GKYqrTwjU-D8ILPZIo2LaLaSw",     /* base64url is not what the standard uses */
        "whsec_MfKQ9r8G=YqrTwjUPD8ILPZIo2LaLaSw",     /* padding inside */
        "whsec_MfKQ=",
        "whsec_A===",
    };
    char out[256];
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        strcpy(out, "unchanged");
        ck_assert_msg(!webhook_sign(bad[i], NULL, REF_ID, REF_TS, REF_BODY, strlen(REF_BODY), out, sizeof out),
                      "accepted %s", bad[i] ? bad[i] : "NULL");
        ck_assert_str_eq(out, "");
        /* a bad old secret fails the whole header too: a rotation never half-signs */
        ck_assert(!webhook_sign(REF_SECRET, bad[i] ? bad[i] : "x", REF_ID, REF_TS, REF_BODY, strlen(REF_BODY), out,
                                sizeof out));
    }
    /* too long for WEBHOOK_SECRET_MAX */
    char longer[WEBHOOK_SECRET_MAX + 16];
    strcpy(longer, WEBHOOK_SECRET_PREFIX);
    memset(longer + 6, 'A', sizeof longer - 7);
    longer[sizeof longer - 1] = '\0';
    ck_assert(!webhook_sign(longer, NULL, REF_ID, REF_TS, REF_BODY, strlen(REF_BODY), out, sizeof out));
}
END_TEST

START_TEST(out_of_space)
{
    char out[96];
    size_t one = strlen(REF_SIG);
    ck_assert(!webhook_sign(REF_SECRET, NULL, REF_ID, REF_TS, REF_BODY, strlen(REF_BODY), out, one));
    ck_assert(webhook_sign(REF_SECRET, NULL, REF_ID, REF_TS, REF_BODY, strlen(REF_BODY), out, one + 1));
    ck_assert_str_eq(out, REF_SIG);
    ck_assert(!webhook_sign(REF_SECRET, REF_SECRET, REF_ID, REF_TS, REF_BODY, strlen(REF_BODY), out, 2 * one + 1));
    ck_assert_str_eq(out, "");
    ck_assert(webhook_sign(REF_SECRET, REF_SECRET, REF_ID, REF_TS, REF_BODY, strlen(REF_BODY), out, 2 * one + 2));
    ck_assert_str_eq(out, REF_SIG " " REF_SIG);
}
END_TEST

START_TEST(new_secrets)
{
    char a[WEBHOOK_SECRET_MAX], b[WEBHOOK_SECRET_MAX];
    unsigned char raw[40];
    ck_assert(webhook_sign_new_secret(a));
    ck_assert(webhook_sign_new_secret(b));
    ck_assert_str_ne(a, b);
    ck_assert_uint_eq(strlen(a), 6 + 32);
    ck_assert(strncmp(a, "whsec_", 6) == 0);
    /* 24 bytes of key, standard base64 without padding */
    ck_assert_int_eq(EVP_DecodeBlock(raw, (const unsigned char *)a + 6, 32), 24);
    for (const char *p = a + 6; *p; p++)
        ck_assert_msg(strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/", *p), "char %c", *p);
    char out[128];
    ck_assert(webhook_sign(a, b, "msg_x", 1, "{}", 2, out, sizeof out));
    ck_assert_uint_eq(strlen(out), 2 * strlen(REF_SIG) + 1);
}
END_TEST

static Suite *sign_suite(void)
{
    Suite *s = suite_create("webhook_sign");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, reference_vector);
    tcase_add_test(tc, python_values);
    tcase_add_test(tc, padding_left_out);
    tcase_add_test(tc, rotation_two_signatures);
    tcase_add_test(tc, malformed_secrets);
    tcase_add_test(tc, out_of_space);
    tcase_add_test(tc, new_secrets);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(sign_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
