/*
 * Unit tests for server/wal_coalesce.c, the writer's VFS that joins each WAL frame's header and
 * page into one write.
 *
 * What must hold: after every COMMIT the WAL on disk is complete (no header still held back), so a
 * copy of the files taken while the connection is still open -- what a crash leaves -- opens with
 * SQLite's default VFS and holds every committed row; and the WAL's size is exactly SQLite's
 * layout (32-byte header, then 24 + page size per frame), so no write was lost or doubled.
 */
#include <check.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "wal_coalesce.h"

#define ROWS 600
#define PER_COMMIT 20

static char dir[64];

static void make_dir(void)
{
    snprintf(dir, sizeof dir, "/tmp/wal_coalesce_XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
}

static void copy_file(const char *from, const char *to)
{
    FILE *in = fopen(from, "rb");
    FILE *out = fopen(to, "wb");
    char buf[65536];
    size_t n;

    ck_assert_ptr_nonnull(in);
    ck_assert_ptr_nonnull(out);
    while ((n = fread(buf, 1, sizeof buf, in)) > 0)
        ck_assert_uint_eq(fwrite(buf, 1, n, out), n);
    fclose(in);
    fclose(out);
}

static void exec(sqlite3 *db, const char *sql)
{
    char *err = NULL;
    int rc = sqlite3_exec(db, sql, NULL, NULL, &err);
    ck_assert_msg(rc == SQLITE_OK, "%s: %s", sql, err ? err : "?");
}

static long long count_rows(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *s = NULL;
    ck_assert_int_eq(sqlite3_prepare_v2(db, sql, -1, &s, NULL), SQLITE_OK);
    ck_assert_int_eq(sqlite3_step(s), SQLITE_ROW);
    long long n = sqlite3_column_int64(s, 0);
    sqlite3_finalize(s);
    return n;
}

static void remove_files(const char *base)
{
    char path[128];
    const char *suffixes[] = {"", "-wal", "-shm"};
    for (int i = 0; i < 3; i++) {
        snprintf(path, sizeof path, "%s%s", base, suffixes[i]);
        unlink(path);
    }
}

START_TEST(test_committed_wal_complete_while_open)
{
    char db_path[128], copy_path[128], from[160], to[160];
    sqlite3 *db = NULL;
    const char *vfs = wal_coalesce_vfs();

    ck_assert_ptr_nonnull(vfs);
    make_dir();
    snprintf(db_path, sizeof db_path, "%s/w.db", dir);
    snprintf(copy_path, sizeof copy_path, "%s/copy.db", dir);
    ck_assert_int_eq(sqlite3_open_v2(db_path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, vfs), SQLITE_OK);
    exec(db, "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA wal_autocheckpoint = 0;"
             "CREATE TABLE t (k INTEGER PRIMARY KEY, v BLOB NOT NULL, s TEXT NOT NULL);"
             "CREATE INDEX t_s ON t (s);");
    int page_size = (int)count_rows(db, "PRAGMA page_size");
    for (int i = 0; i < ROWS; i += PER_COMMIT) {
        char sql[256];
        snprintf(sql, sizeof sql,
                 "BEGIN; WITH RECURSIVE n(x) AS (SELECT %d UNION ALL SELECT x + 1 FROM n WHERE x < %d)"
                 " INSERT INTO t SELECT x, randomblob(700), hex(randomblob(12)) FROM n; COMMIT;",
                 i, i + PER_COMMIT - 1);
        exec(db, sql);
    }
    /* Copied while the writing connection is still open: what a crash would leave behind. */
    copy_file(db_path, copy_path);
    snprintf(from, sizeof from, "%s-wal", db_path);
    snprintf(to, sizeof to, "%s-wal", copy_path);
    copy_file(from, to);

    struct stat st;
    ck_assert_int_eq(stat(from, &st), 0);
    ck_assert_int_gt(st.st_size, 32);
    ck_assert_int_eq((st.st_size - 32) % (24 + page_size), 0);

    sqlite3 *copy = NULL;
    ck_assert_int_eq(sqlite3_open_v2(copy_path, &copy, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
    ck_assert_int_eq(count_rows(copy, "SELECT count(*) FROM t"), ROWS);
    ck_assert_int_eq(count_rows(copy, "SELECT count(*) FROM t INDEXED BY t_s WHERE s > ''"), ROWS);
    sqlite3_stmt *s = NULL;
    ck_assert_int_eq(sqlite3_prepare_v2(copy, "PRAGMA integrity_check", -1, &s, NULL), SQLITE_OK);
    ck_assert_int_eq(sqlite3_step(s), SQLITE_ROW);
    ck_assert_str_eq((const char *)sqlite3_column_text(s, 0), "ok");
    sqlite3_finalize(s);
    sqlite3_close(copy);

    /* And through the VFS itself: reads after writes, a checkpoint, a clean close. */
    ck_assert_int_eq(count_rows(db, "SELECT count(*) FROM t"), ROWS);
    exec(db, "PRAGMA wal_checkpoint(TRUNCATE)");
    ck_assert_int_eq(sqlite3_close(db), SQLITE_OK);
    ck_assert_int_eq(sqlite3_open_v2(db_path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    ck_assert_int_eq(count_rows(db, "SELECT count(*) FROM t"), ROWS);
    sqlite3_close(db);

    remove_files(db_path);
    remove_files(copy_path);
    rmdir(dir);
}
END_TEST

START_TEST(test_registered_once)
{
    const char *a = wal_coalesce_vfs();
    const char *b = wal_coalesce_vfs();
    ck_assert_ptr_nonnull(a);
    ck_assert_str_eq(a, b);
    ck_assert_ptr_nonnull(sqlite3_vfs_find(a));
    /* Not the default: only connections that ask for it use it. */
    ck_assert_str_ne(sqlite3_vfs_find(NULL)->zName, a);
}
END_TEST

int main(void)
{
    Suite *suite = suite_create("wal_coalesce");
    TCase *tc = tcase_create("wal_coalesce");

    tcase_add_test(tc, test_registered_once);
    tcase_add_test(tc, test_committed_wal_complete_while_open);
    tcase_set_timeout(tc, 60);
    suite_add_tcase(suite, tc);

    SRunner *runner = srunner_create(suite);
    srunner_run_all(runner, CK_NORMAL);
    int failed = srunner_ntests_failed(runner);
    srunner_free(runner);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
