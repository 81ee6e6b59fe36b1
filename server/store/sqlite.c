/* The SQLite backend (backend.h): the embedded default, one file in the data folder.
 *
 * One write connection (the writer thread's) and one read connection per reading thread, found
 * through a pthread key. WAL mode lets readers run while the writer commits. Statements are prepared
 * once per connection and reset after each use. */
#include "sqlite_internal.h"

#include <errno.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "oom.h"
#include "schema.h"
#include "sqlite_checkpointer.h"

/* The statements every connection prepares on first use (enum sqlite_stmt_id in sqlite_internal.h). */

/* group_by=agent: every agent's own range of an agent-first table, one index seek each, instead of
 * the whole survey's cells with the time filter applied to each: the survey's agents listed one
 * seek at a time (a skip-scan) from the smallest agent-keyed table. */
#define EACH_AGENT "WITH RECURSIVE agents (agent) AS (SELECT min(agent) FROM rollup_responses_agent WHERE survey = ?1" \
    " UNION ALL SELECT (SELECT min(agent) FROM rollup_responses_agent WHERE survey = ?1 AND agent > agents.agent)" \
    " FROM agents WHERE agents.agent IS NOT NULL) "

/* The columns of every listing, in read_response_row's order (sqlite_responses.c). */
#define LIST_COLUMNS "id, survey, submitted_at, received_at, channel, customer, agent, interaction, answers, properties"
#define LIST_COLUMNS_R "r.id, r.survey, r.submitted_at, r.received_at, r.channel, r.customer, r.agent, r.interaction," \
                       " r.answers, r.properties"

const char *const sqlite_stmt_sql[STMT_COUNT] = {
    [STMT_BEGIN] = "BEGIN IMMEDIATE",
    [STMT_COMMIT] = "COMMIT",
    [STMT_ROLLBACK] = "ROLLBACK",
    [STMT_SAVEPOINT] = "SAVEPOINT job",
    [STMT_RELEASE] = "RELEASE job",
    [STMT_ROLLBACK_TO] = "ROLLBACK TO job",
    [STMT_GET_SURVEY] = "SELECT id, definition, created_at, updated_at FROM surveys WHERE id = ?1",
    [STMT_SURVEY_IS] = "SELECT definition = ?2 FROM surveys WHERE id = ?1",
    [STMT_LIST_SURVEYS] = "SELECT id, definition, created_at, updated_at FROM surveys ORDER BY id",
    [STMT_INSERT_SURVEY] = "INSERT INTO surveys (id, definition, created_at, updated_at) VALUES (?1, ?2, ?3, ?3)"
                           " ON CONFLICT (id) DO NOTHING",
    [STMT_UPDATE_SURVEY] = "UPDATE surveys SET definition = ?2, updated_at = ?3 WHERE id = ?1",
    [STMT_DELETE_SURVEY] = "DELETE FROM surveys WHERE id = ?1",
    /* Before the survey row: its responses' BEFORE DELETE trigger reads their documents through
     * survey_questions, which the survey's own deletion cascades to as well. */
    [STMT_DELETE_SURVEY_RESPONSES] = "DELETE FROM responses WHERE survey = ?1",
    [STMT_DELETE_SURVEY_IDEMPOTENCY] = "DELETE FROM idempotency WHERE survey = ?1",
    [STMT_ANSWER_COUNT] = "SELECT answers FROM answered_questions WHERE survey = ?1 AND question = ?2",
    [STMT_GET_RESPONSE] = "SELECT id, survey, submitted_at, received_at, channel, customer, agent, interaction,"
                          " answers, properties FROM responses WHERE id = ?1",
    /* The edit token goes in with the row: a separate UPDATE grew the row right after its insert,
     * one more statement and B-tree search per response, and moved the row's cell within its page. */
    [STMT_INSERT_RESPONSE] = "INSERT INTO responses (id, survey, submitted_at, received_at, channel, customer,"
                             " agent, interaction, answers, properties, edit_token_hash, edit_token_expires_at)"
                             " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
    [STMT_FIND_INTERACTION] = "SELECT id FROM responses WHERE survey = ?1 AND interaction = ?2",
    /* A response's rollup cells, through the answer_facts view: the one definition of which bucket
     * an answer counts in. */
    [STMT_FACTS_OF] = "SELECT survey, submitted_at, channel, agent, question, value FROM answer_facts WHERE seq = ?1",
    [STMT_RESPONSE_CELL_OF] = "SELECT survey, submitted_at, coalesce(channel, ''), coalesce(agent, '')"
                              " FROM responses WHERE seq = ?1",
    /* A batch's accumulated changes, one cell each (see rollup_deltas.h): ?1 survey, ?2 day,
     * ?3 channel, ?4 question, ?5 value, ?6 delta, ?7 agent. */
    [STMT_UPSERT_ANSWERS] = "INSERT INTO rollup_answers (survey, day, channel, question, value, count)"
                            " VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT DO UPDATE SET count = count + excluded.count",
    [STMT_UPSERT_ANSWERS_AGENT] = "INSERT INTO rollup_answers_agent (survey, agent, day, channel, question, value, count)"
                                  " VALUES (?1, ?7, ?2, ?3, ?4, ?5, ?6)"
                                  " ON CONFLICT DO UPDATE SET count = count + excluded.count",
    [STMT_UPSERT_RESPONSES] = "INSERT INTO rollup_responses (survey, day, channel, count) VALUES (?1, ?2, ?3, ?6)"
                              " ON CONFLICT DO UPDATE SET count = count + excluded.count",
    [STMT_UPSERT_RESPONSES_AGENT] = "INSERT INTO rollup_responses_agent (survey, agent, day, channel, count)"
                                    " VALUES (?1, ?7, ?2, ?3, ?6) ON CONFLICT DO UPDATE SET count = count + excluded.count",
    [STMT_UPSERT_ANSWERED] = "INSERT INTO answered_questions (survey, question, answers) VALUES (?1, ?4, ?6)"
                             " ON CONFLICT DO UPDATE SET answers = answers + excluded.answers",
    [STMT_UPSERT_ANSWERS_MONTH] = "INSERT INTO rollup_answers_month (survey, month, channel, question, value, count)"
                                  " VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT DO UPDATE SET count = count + excluded.count",
    [STMT_UPSERT_RESPONSES_MONTH] = "INSERT INTO rollup_responses_month (survey, month, channel, count)"
                                    " VALUES (?1, ?2, ?3, ?6) ON CONFLICT DO UPDATE SET count = count + excluded.count",
    [STMT_UPSERT_ANSWERS_HOUR] = "INSERT INTO rollup_answers_hour (survey, hour, channel, question, value, count)"
                                 " VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT DO UPDATE SET count = count + excluded.count",
    [STMT_UPSERT_RESPONSES_HOUR] = "INSERT INTO rollup_responses_hour (survey, hour, channel, count)"
                                   " VALUES (?1, ?2, ?3, ?6) ON CONFLICT DO UPDATE SET count = count + excluded.count",
    [STMT_CLEAR_QUESTIONS] = "DELETE FROM survey_questions WHERE survey = ?1",
    [STMT_SET_QUESTIONS] = "INSERT INTO survey_questions (survey, question, type)"
                           " SELECT ?1, json_extract(value, '$.id'), json_extract(value, '$.type')"
                           " FROM json_each(?2, '$.questions')",
    /* Metrics: whole days [?2, ?3) from rollups; ?4 channel and ?5 agent filter when not NULL. */
    [STMT_SCAN_ANSWERS] = "SELECT day, channel, '', question, value, count FROM rollup_answers"
                          " WHERE survey = ?1 AND day >= ?2 AND day < ?3 AND (?4 IS NULL OR channel = ?4)",
    [STMT_SCAN_ANSWERS_AGENT] = "SELECT day, channel, agent, question, value, count FROM rollup_answers_agent"
                                " WHERE survey = ?1 AND agent = ?5 AND day >= ?2 AND day < ?3"
                                " AND (?4 IS NULL OR channel = ?4)",
    [STMT_SCAN_ANSWERS_ALL_AGENTS] = EACH_AGENT "SELECT r.day, r.channel, r.agent, r.question, r.value, r.count"
                                     " FROM agents CROSS JOIN rollup_answers_agent AS r"
                                     " WHERE r.survey = ?1 AND r.agent = agents.agent AND r.day >= ?2 AND r.day < ?3"
                                     " AND (?4 IS NULL OR r.channel = ?4) AND ?5 IS NULL",
    [STMT_SCAN_RESPONSES] = "SELECT day, channel, '', NULL, NULL, count FROM rollup_responses"
                            " WHERE survey = ?1 AND day >= ?2 AND day < ?3 AND (?4 IS NULL OR channel = ?4)",
    [STMT_SCAN_RESPONSES_AGENT] = "SELECT day, channel, agent, NULL, NULL, count FROM rollup_responses_agent"
                                  " WHERE survey = ?1 AND agent = ?5 AND day >= ?2 AND day < ?3"
                                  " AND (?4 IS NULL OR channel = ?4)",
    [STMT_SCAN_RESPONSES_ALL_AGENTS] = EACH_AGENT "SELECT r.day, r.channel, r.agent, NULL, NULL, r.count"
                                       " FROM agents CROSS JOIN rollup_responses_agent AS r"
                                       " WHERE r.survey = ?1 AND r.agent = agents.agent AND r.day >= ?2 AND r.day < ?3"
                                       " AND (?4 IS NULL OR r.channel = ?4) AND ?5 IS NULL",
    /* The same from the month tables: months (their first days) [?2, ?3). */
    [STMT_SCAN_ANSWERS_MONTH] = "SELECT month, channel, '', question, value, count FROM rollup_answers_month"
                                " WHERE survey = ?1 AND month >= ?2 AND month < ?3 AND (?4 IS NULL OR channel = ?4)",
    [STMT_SCAN_RESPONSES_MONTH] = "SELECT month, channel, '', NULL, NULL, count FROM rollup_responses_month"
                                  " WHERE survey = ?1 AND month >= ?2 AND month < ?3 AND (?4 IS NULL OR channel = ?4)",
    /* Whole hours [?2, ?3) of a window's partial edge days (no agent filter or grouping). */
    [STMT_SCAN_ANSWERS_HOUR] = "SELECT hour / 24, channel, '', question, value, count FROM rollup_answers_hour"
                               " WHERE survey = ?1 AND hour >= ?2 AND hour < ?3 AND (?4 IS NULL OR channel = ?4)"
                               " AND ?5 IS NULL",
    [STMT_SCAN_RESPONSES_HOUR] = "SELECT hour / 24, channel, '', NULL, NULL, count FROM rollup_responses_hour"
                                 " WHERE survey = ?1 AND hour >= ?2 AND hour < ?3 AND (?4 IS NULL OR channel = ?4)"
                                 " AND ?5 IS NULL",
    /* Partial days at a window's edges, from the raw rows: times [?2, ?3) in milliseconds. */
    [STMT_SCAN_RAW_ANSWERS] = "SELECT day, channel, agent, question, value, count(*) FROM answer_facts"
                              " WHERE survey = ?1 AND submitted_at >= ?2 AND submitted_at < ?3"
                              " AND (?4 IS NULL OR channel = ?4) AND (?5 IS NULL OR agent = ?5)"
                              " GROUP BY 1, 2, 3, 4, 5",
    [STMT_SCAN_RAW_RESPONSES] = "SELECT submitted_at / 86400000, coalesce(channel, ''), coalesce(agent, ''), NULL,"
                                " NULL, count(*) FROM responses"
                                " WHERE survey = ?1 AND submitted_at >= ?2 AND submitted_at < ?3"
                                " AND (?4 IS NULL OR channel = ?4) AND (?5 IS NULL OR agent = ?5)"
                                " GROUP BY 1, 2, 3",
    [STMT_DAY_SPAN] = "SELECT min(day), max(day) FROM rollup_responses WHERE survey = ?1 AND count > 0",
    [STMT_FIND_IDEMPOTENCY] = "SELECT body, status, reply, response_id FROM idempotency WHERE scope = ?1 AND key = ?2",
    [STMT_SAVE_IDEMPOTENCY] = "INSERT INTO idempotency (scope, key, body, status, reply, response_id, customer,"
                              " created_at, survey) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    [STMT_GET_EDIT_TOKEN] = "SELECT edit_token_hash, edit_token_expires_at FROM responses"
                            " WHERE id = ?1 AND edit_token_hash IS NOT NULL",
    /* Keyset pagination, newest first: rows strictly before (?2 ms, ?3 id), at or after ?4 ms. The
     * bound is a row value so the index range starts right at the cursor, whatever the page. */
    [STMT_LIST] = "SELECT " LIST_COLUMNS " FROM responses"
                  " WHERE survey = ?1 AND (submitted_at, id) < (?2, ?3) AND submitted_at >= ?4"
                  " AND (?5 IS NULL OR channel = ?5) AND (?6 IS NULL OR agent = ?6)"
                  " AND (?7 IS NULL OR customer = ?7) AND (?8 IS NULL OR interaction = ?8)"
                  " ORDER BY submitted_at DESC, id DESC LIMIT ?9",
    [STMT_LIST_CUSTOMER] = "SELECT " LIST_COLUMNS " FROM responses"
                           " WHERE customer = ?7 AND (submitted_at, id) < (?2, ?3) AND submitted_at >= ?4"
                           " AND (?1 IS NULL OR survey = ?1) AND (?5 IS NULL OR channel = ?5)"
                           " AND (?6 IS NULL OR agent = ?6) AND (?8 IS NULL OR interaction = ?8)"
                           " ORDER BY submitted_at DESC, id DESC LIMIT ?9",
    /* Text search (q=). ?10 is an FTS5 expression built by text_query_fts5, never the user's text.
     * How many responses match, up to ?2: decides between the two newest-first plans below. */
    [STMT_TEXT_MATCHES] = "SELECT count(*) FROM (SELECT 1 FROM response_text_index WHERE response_text_index MATCH ?1"
                          " LIMIT ?2)",
    /* The walk of a page (sqlite_responses.c walk_list): the next rows newest first, as (seq, time,
     * id) from the listing's own index; the matches among a range of seqs; a row by seq. */
    [STMT_LIST_SEQS] = "SELECT seq, submitted_at, id FROM responses"
                       " WHERE survey = ?1 AND (submitted_at, id) < (?2, ?3) AND submitted_at >= ?4"
                       " AND (?5 IS NULL OR channel = ?5) AND (?6 IS NULL OR agent = ?6)"
                       " AND (?7 IS NULL OR customer = ?7) AND (?8 IS NULL OR interaction = ?8)"
                       " ORDER BY submitted_at DESC, id DESC LIMIT ?9",
    [STMT_LIST_CUSTOMER_SEQS] = "SELECT seq, submitted_at, id FROM responses"
                                " WHERE customer = ?7 AND (submitted_at, id) < (?2, ?3) AND submitted_at >= ?4"
                                " AND (?1 IS NULL OR survey = ?1) AND (?5 IS NULL OR channel = ?5)"
                                " AND (?6 IS NULL OR agent = ?6) AND (?8 IS NULL OR interaction = ?8)"
                                " ORDER BY submitted_at DESC, id DESC LIMIT ?9",
    [STMT_TEXT_IN_RANGE] = "SELECT rowid FROM response_text_index WHERE response_text_index MATCH ?1"
                           " AND rowid BETWEEN ?2 AND ?3",
    [STMT_RESPONSE_BY_SEQ] = "SELECT " LIST_COLUMNS " FROM responses WHERE seq = ?1",
    /* Common terms in an export (row by row, in stretches): newest rows first along the listing's
     * own index, each checked against the index by rowid; stops after ?9 matches. */
    [STMT_LIST_TEXT_WALK] = "SELECT " LIST_COLUMNS " FROM responses"
                            " WHERE survey = ?1 AND (submitted_at, id) < (?2, ?3) AND submitted_at >= ?4"
                            " AND (?5 IS NULL OR channel = ?5) AND (?6 IS NULL OR agent = ?6)"
                            " AND (?7 IS NULL OR customer = ?7) AND (?8 IS NULL OR interaction = ?8)"
                            " AND EXISTS (SELECT 1 FROM response_text_index WHERE response_text_index MATCH ?10"
                            "             AND rowid = responses.seq)"
                            " ORDER BY submitted_at DESC, id DESC LIMIT ?9",
    [STMT_LIST_CUSTOMER_TEXT_WALK] = "SELECT " LIST_COLUMNS " FROM responses"
                                     " WHERE customer = ?7 AND (submitted_at, id) < (?2, ?3) AND submitted_at >= ?4"
                                     " AND (?1 IS NULL OR survey = ?1) AND (?5 IS NULL OR channel = ?5)"
                                     " AND (?6 IS NULL OR agent = ?6) AND (?8 IS NULL OR interaction = ?8)"
                                     " AND EXISTS (SELECT 1 FROM response_text_index WHERE response_text_index MATCH ?10"
                                     "             AND rowid = responses.seq)"
                                     " ORDER BY submitted_at DESC, id DESC LIMIT ?9",
    /* Rare terms: every match from the index, its row by rowid, sorted. CROSS JOIN keeps the index
     * outermost. */
    [STMT_LIST_TEXT_DRIVE] = "SELECT " LIST_COLUMNS_R " FROM response_text_index CROSS JOIN responses AS r"
                             " ON r.seq = response_text_index.rowid"
                             " WHERE response_text_index MATCH ?10 AND (?1 IS NULL OR r.survey = ?1)"
                             " AND (r.submitted_at, r.id) < (?2, ?3) AND r.submitted_at >= ?4"
                             " AND (?5 IS NULL OR r.channel = ?5) AND (?6 IS NULL OR r.agent = ?6)"
                             " AND (?7 IS NULL OR r.customer = ?7) AND (?8 IS NULL OR r.interaction = ?8)"
                             " ORDER BY r.submitted_at DESC, r.id DESC LIMIT ?9",
    /* sort=relevance: FTS5's bm25 (smaller is better), ties newest first; paged by offset. Ranked
     * among the newest ?12 matches that pass the filters (latest stored first: FTS5 reads its
     * doclists backwards by rowid), so a word in half the answers costs ?12 scores, not millions. */
    [STMT_LIST_TEXT_RANK] = "SELECT " LIST_COLUMNS " FROM ("
                            "  SELECT r.*, bm25(response_text_index) AS score"
                            "  FROM response_text_index CROSS JOIN responses AS r ON r.seq = response_text_index.rowid"
                            "  WHERE response_text_index MATCH ?10 AND (?1 IS NULL OR r.survey = ?1)"
                            "  AND (r.submitted_at, r.id) < (?2, ?3) AND r.submitted_at >= ?4"
                            "  AND (?5 IS NULL OR r.channel = ?5) AND (?6 IS NULL OR r.agent = ?6)"
                            "  AND (?7 IS NULL OR r.customer = ?7) AND (?8 IS NULL OR r.interaction = ?8)"
                            "  ORDER BY response_text_index.rowid DESC LIMIT ?12)"
                            " ORDER BY score, submitted_at DESC, id DESC LIMIT ?9 OFFSET ?11",
    /* The batch's document changes into the index in the order they happened (schema/012). */
    [STMT_TEXT_FEED] = "INSERT INTO response_text_index (response_text_index, rowid, body)"
                       " SELECT CASE remove WHEN 1 THEN 'delete' END, seq, body FROM text_pending ORDER BY id",
    [STMT_TEXT_CLEAR] = "DELETE FROM text_pending",
    [STMT_TOPICS_ANY] = "SELECT 1 FROM topics LIMIT 1",
    /* LEFT JOIN: a removal's response may be gone already (its tags went with it). */
    [STMT_TOPIC_PENDING] = "SELECT p.seq, p.remove, p.body, r.survey FROM text_pending AS p"
                           " LEFT JOIN responses AS r ON r.seq = p.seq ORDER BY p.id",
    [STMT_SURVEY_TOPICS] = "SELECT id, query FROM topics WHERE survey = ?1 ORDER BY id",
    [STMT_UNTAG_RESPONSE] = "DELETE FROM response_topics WHERE seq = ?1",
    [STMT_TAG_RESPONSE] = "INSERT OR IGNORE INTO response_topics (seq, survey, topic) VALUES (?1, ?2, ?3)",
    /* A topic's responses counted from its month rollup (schema/016), not its tags: a few cells a month. */
#define TOPIC_COLUMNS "survey, id, title, query, created_at, updated_at, scanned, total," \
    " (SELECT coalesce(sum(c.count), 0) FROM rollup_topic_responses_month AS c" \
    "  WHERE c.survey = topics.survey AND c.topic = topics.id), cursor_seq IS NOT NULL"
    [STMT_GET_TOPIC] = "SELECT " TOPIC_COLUMNS " FROM topics WHERE survey = ?1 AND id = ?2",
    [STMT_LIST_TOPICS] = "SELECT " TOPIC_COLUMNS " FROM topics WHERE survey = ?1 ORDER BY id",
#undef TOPIC_COLUMNS
    /* ?9, ?11: the back-fill's cursor and end, set when ?10 (a new topic, or a new query); kept
     * otherwise. */
    [STMT_PUT_TOPIC] = "INSERT INTO topics (survey, id, title, query, created_at, updated_at, scanned, total,"
                       " cursor_seq, cursor_end) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?11) ON CONFLICT (survey, id) DO UPDATE SET"
                       " title = excluded.title, query = excluded.query, updated_at = excluded.updated_at,"
                       " scanned = excluded.scanned, total = excluded.total,"
                       " cursor_seq = CASE WHEN ?10 THEN excluded.cursor_seq ELSE topics.cursor_seq END,"
                       " cursor_end = CASE WHEN ?10 THEN excluded.cursor_end ELSE topics.cursor_end END",
    /* The back-fill (sqlite_topics.c): the first topic whose back-fill runs; the next ?3 responses
     * after the cursor by seq, up to its end ?4, whatever their survey (a range of the rowid: each batch costs ?3
     * rows, not a sort of the survey's), with whether they are the topic's survey's and then their
     * documents (NULL: no text, nothing to match); the cursor moved (?3 NULL: done, scanned =
     * total). */
    [STMT_BACKFILL_NEXT_TOPIC] = "SELECT survey, id, query, cursor_seq, cursor_end FROM topics WHERE cursor_seq IS NOT NULL"
                                 " ORDER BY survey, id LIMIT 1",
    [STMT_BACKFILL_DOCUMENTS] = "SELECT r.seq, r.survey = ?1, CASE WHEN r.survey = ?1 THEN"
                                " (SELECT d.body FROM response_documents AS d WHERE d.seq = r.seq) END"
                                " FROM responses AS r WHERE r.seq > ?2 AND r.seq <= ?4 ORDER BY r.seq LIMIT ?3",
    /* The survey's last response when a back-fill starts: the back-fill ends there. */
    [STMT_SURVEY_LAST_SEQ] = "SELECT coalesce(max(seq), 0) FROM responses WHERE survey = ?1",
    [STMT_BACKFILL_MOVE] = "UPDATE topics SET cursor_seq = ?3,"
                           " scanned = CASE WHEN ?3 IS NULL THEN total ELSE min(total, scanned + ?4) END"
                           " WHERE survey = ?1 AND id = ?2",
    /* A topic's cells, dropped before its tags are (its query changed): the tags' triggers then
     * find nothing to take away, one lookup each instead of an update. */
    [STMT_CLEAR_TOPIC_ROLLUPS] = "DELETE FROM rollup_topic_answers WHERE survey = ?1 AND topic = ?2",
    [STMT_CLEAR_TOPIC_RESPONSES] = "DELETE FROM rollup_topic_responses WHERE survey = ?1 AND topic = ?2",
    [STMT_DELETE_TOPIC] = "DELETE FROM topics WHERE survey = ?1 AND id = ?2",
    [STMT_COUNT_TOPICS] = "SELECT count(*) FROM topics WHERE survey = ?1",
    [STMT_UNTAG_TOPIC] = "DELETE FROM response_topics WHERE survey = ?1 AND topic = ?2",
    [STMT_SURVEY_DOCUMENTS] = "SELECT r.seq, d.body FROM responses AS r JOIN response_documents AS d ON d.seq = r.seq"
                              " WHERE r.survey = ?1 AND d.body IS NOT NULL ORDER BY r.seq",
    [STMT_COUNT_SURVEY_RESPONSES] = "SELECT count(*) FROM responses WHERE survey = ?1",
    [STMT_SCAN_RAW_ANSWERS_TOPIC] = "SELECT day, channel, agent, question, value, count(*) FROM answer_facts"
                                    " WHERE survey = ?1 AND submitted_at >= ?2 AND submitted_at < ?3"
                                    " AND (?4 IS NULL OR channel = ?4) AND (?5 IS NULL OR agent = ?5)"
                                    " AND seq IN (SELECT seq FROM response_topics WHERE survey = ?1 AND topic = ?6)"
                                    " GROUP BY 1, 2, 3, 4, 5",
    [STMT_SCAN_RAW_RESPONSES_TOPIC] = "SELECT submitted_at / 86400000, coalesce(channel, ''), coalesce(agent, ''), NULL,"
                                      " NULL, count(*) FROM responses"
                                      " WHERE survey = ?1 AND submitted_at >= ?2 AND submitted_at < ?3"
                                      " AND (?4 IS NULL OR channel = ?4) AND (?5 IS NULL OR agent = ?5)"
                                      " AND seq IN (SELECT seq FROM response_topics WHERE survey = ?1 AND topic = ?6)"
                                      " GROUP BY 1, 2, 3",
    /* group_by=topic (by_topic): a row per topic a response is tagged with; ?6 is NULL. */
    [STMT_SCAN_RAW_ANSWERS_BY_TOPIC] = "SELECT f.day, f.channel, f.agent, f.question, f.value, count(*), t.topic"
                                       " FROM answer_facts AS f CROSS JOIN response_topics AS t ON t.seq = f.seq"
                                       " WHERE f.survey = ?1 AND f.submitted_at >= ?2 AND f.submitted_at < ?3"
                                       " AND (?4 IS NULL OR f.channel = ?4) AND (?5 IS NULL OR f.agent = ?5)"
                                       " AND ?6 IS NULL GROUP BY 1, 2, 3, 4, 5, 7",
    [STMT_SCAN_RAW_RESPONSES_BY_TOPIC] = "SELECT r.submitted_at / 86400000, coalesce(r.channel, ''),"
                                         " coalesce(r.agent, ''), NULL, NULL, count(*), t.topic"
                                         " FROM responses AS r CROSS JOIN response_topics AS t ON t.seq = r.seq"
                                         " WHERE r.survey = ?1 AND r.submitted_at >= ?2 AND r.submitted_at < ?3"
                                         " AND (?4 IS NULL OR r.channel = ?4) AND (?5 IS NULL OR r.agent = ?5)"
                                         " AND ?6 IS NULL GROUP BY 1, 2, 3, 7",
    /* Whole days [?2, ?3) of one topic (?6) or of every topic of the survey (schema/015); never
     * with an agent (?5), which these tables do not have. */
    [STMT_SCAN_TOPIC_ANSWERS] = "SELECT day, channel, '', question, value, count, topic FROM rollup_topic_answers"
                                " WHERE survey = ?1 AND topic = ?6 AND day >= ?2 AND day < ?3"
                                " AND (?4 IS NULL OR channel = ?4) AND ?5 IS NULL",
    [STMT_SCAN_TOPIC_RESPONSES] = "SELECT day, channel, '', NULL, NULL, count, topic FROM rollup_topic_responses"
                                  " WHERE survey = ?1 AND topic = ?6 AND day >= ?2 AND day < ?3"
                                  " AND (?4 IS NULL OR channel = ?4) AND ?5 IS NULL",
    [STMT_SCAN_TOPIC_ANSWERS_ALL] = "SELECT day, channel, '', question, value, count, topic FROM rollup_topic_answers"
                                    " WHERE survey = ?1 AND day >= ?2 AND day < ?3"
                                    " AND (?4 IS NULL OR channel = ?4) AND ?5 IS NULL AND ?6 IS NULL",
    [STMT_SCAN_TOPIC_RESPONSES_ALL] = "SELECT day, channel, '', NULL, NULL, count, topic FROM rollup_topic_responses"
                                      " WHERE survey = ?1 AND day >= ?2 AND day < ?3"
                                      " AND (?4 IS NULL OR channel = ?4) AND ?5 IS NULL AND ?6 IS NULL",
    /* Whole months [?2, ?3) (their first days) of one topic or of every topic (schema/016). */
    [STMT_SCAN_TOPIC_ANSWERS_MONTH] = "SELECT month, channel, '', question, value, count, topic"
                                      " FROM rollup_topic_answers_month"
                                      " WHERE survey = ?1 AND topic = ?6 AND month >= ?2 AND month < ?3"
                                      " AND (?4 IS NULL OR channel = ?4) AND ?5 IS NULL",
    [STMT_SCAN_TOPIC_RESPONSES_MONTH] = "SELECT month, channel, '', NULL, NULL, count, topic"
                                        " FROM rollup_topic_responses_month"
                                        " WHERE survey = ?1 AND topic = ?6 AND month >= ?2 AND month < ?3"
                                        " AND (?4 IS NULL OR channel = ?4) AND ?5 IS NULL",
    [STMT_SCAN_TOPIC_ANSWERS_MONTH_ALL] = "SELECT month, channel, '', question, value, count, topic"
                                          " FROM rollup_topic_answers_month"
                                          " WHERE survey = ?1 AND month >= ?2 AND month < ?3"
                                          " AND (?4 IS NULL OR channel = ?4) AND ?5 IS NULL AND ?6 IS NULL",
    [STMT_SCAN_TOPIC_RESPONSES_MONTH_ALL] = "SELECT month, channel, '', NULL, NULL, count, topic"
                                            " FROM rollup_topic_responses_month"
                                            " WHERE survey = ?1 AND month >= ?2 AND month < ?3"
                                            " AND (?4 IS NULL OR channel = ?4) AND ?5 IS NULL AND ?6 IS NULL",
    /* The same one row at a time, for documents stemmed in C on the way (--text-language). */
    [STMT_TEXT_PENDING] = "SELECT seq, remove, body FROM text_pending ORDER BY id",
    [STMT_TEXT_PUT] = "INSERT INTO response_text_index (response_text_index, rowid, body)"
                      " VALUES (CASE ?2 WHEN 1 THEN 'delete' END, ?1, ?3)",
    [STMT_SEQ_OF] = "SELECT seq FROM responses WHERE id = ?1",
    [STMT_UPDATE_ANSWERS] = "UPDATE responses SET answers = ?2 WHERE seq = ?1",
    [STMT_DELETE_RESPONSE] = "DELETE FROM responses WHERE seq = ?1",
    [STMT_DELETE_RESPONSE_IDEMPOTENCY] = "DELETE FROM idempotency WHERE response_id ="
                                         " (SELECT id FROM responses WHERE seq = ?1)",
    [STMT_CUSTOMER_SEQS] = "SELECT seq FROM responses WHERE customer = ?1",
    [STMT_DELETE_CUSTOMER_IDEMPOTENCY] = "DELETE FROM idempotency WHERE customer = ?1",
    /* Insertion order is roughly time order, so old rows are found first. */
    [STMT_OLD_SEQS] = "SELECT seq FROM responses WHERE submitted_at < ?1 LIMIT ?2",
    [STMT_PROBE_WRITE] = "INSERT INTO health (id, checked_at) VALUES (1, ?1)"
                         " ON CONFLICT (id) DO UPDATE SET checked_at = excluded.checked_at",
    [STMT_PING] = "SELECT count(*) FROM sqlite_schema",
    /* Invitations (sqlite_invitations.c, schema/008). */
    [STMT_INSERT_INVITATION] = "INSERT INTO invitations (" SQLITE_INVITATION_COLUMNS ")"
                               " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16,"
                               " ?17, ?18, ?19)",
    [STMT_GET_INVITATION] = "SELECT " SQLITE_INVITATION_COLUMNS " FROM invitations WHERE id = ?1",
    [STMT_FIND_INVITATION_TOKEN] = "SELECT " SQLITE_INVITATION_COLUMNS " FROM invitations"
                                   " WHERE token_hash = ?1 AND outcome = 0",
    [STMT_UPDATE_INVITATION] = "UPDATE invitations SET opened_at = ?2, responded_at = ?3, response_id = ?4,"
                               " automated_visits = ?5, last_visit_at = ?6, last_visit_value = ?7, captured = ?8"
                               " WHERE id = ?1",
    /* Each side one index seek (invitations_contact; the customer's responses); the later of the
     * two is taken in C, since SQLite's max(a, b) is NULL when either is. */
    [STMT_LAST_CONTACT] = "SELECT (SELECT max(created_at) FROM invitations"
                          "         WHERE survey = ?1 AND customer = ?2 AND outcome = 0),"
                          " (SELECT max(submitted_at) FROM responses WHERE customer = ?2 AND survey = ?1)",
    /* Days as the responses' (submitted_at / 86400000, truncated like answer_facts), so that an
     * invitation's day is the day a response at the same instant counts in. ?6: keep the agent. */
    [STMT_SCAN_INVITATIONS] = "SELECT created_at / 86400000, coalesce(channel, ''),"
                              " CASE WHEN ?6 THEN coalesce(agent, '') ELSE '' END,"
                              " sum(outcome = 0), sum(outcome <> 0),"
                              " sum(outcome = 0 AND (opened_at > 0 OR responded_at > 0)),"
                              " sum(outcome = 0 AND responded_at > 0) FROM invitations"
                              " WHERE survey = ?1 AND created_at >= ?2 AND created_at < ?3"
                              " AND (?4 IS NULL OR channel = ?4) AND (?5 IS NULL OR agent = ?5)"
                              " GROUP BY 1, 2, 3",
    /* The same cells for whole days [?2, ?3), from the rollup (schema/009_invitation_days.sql). */
    [STMT_SCAN_INVITATION_DAYS] = "SELECT day, channel, CASE WHEN ?6 THEN agent ELSE '' END,"
                                  " sum(sent), sum(suppressed), sum(opened), sum(responded) FROM invitation_days"
                                  " WHERE survey = ?1 AND day >= ?2 AND day < ?3"
                                  " AND (?4 IS NULL OR channel = ?4) AND (?5 IS NULL OR agent = ?5)"
                                  " GROUP BY 1, 2, 3",
    [STMT_DELETE_CUSTOMER_INVITATIONS] = "DELETE FROM invitations WHERE customer = ?1",
    /* The same rows twice, in one transaction: first the idempotency records whose stored reply
     * holds their link, then the invitations. */
    [STMT_DELETE_OLD_INVITATION_REPLIES] = "DELETE FROM idempotency WHERE response_id IN"
                                           " (SELECT id FROM invitations WHERE created_at < ?1 ORDER BY seq LIMIT ?2)",
    [STMT_DELETE_OLD_INVITATIONS] = "DELETE FROM invitations WHERE seq IN"
                                    " (SELECT seq FROM invitations WHERE created_at < ?1 ORDER BY seq LIMIT ?2)",
    /* Webhooks (sqlite_webhooks.c). */
#define SQLITE_DELIVERY_IN_ORDER                                                                             \
    "NOT EXISTS (SELECT 1 FROM webhook_deliveries AS e WHERE e.webhook = d.webhook AND e.subject = d.subject" \
    " AND e.seq < d.seq AND e.state IN (0, 1))"
    [STMT_WEBHOOK_EXISTS] = "SELECT 1 FROM webhooks WHERE id = ?1",
    /* A new subscription's cursor: the newest seq the log ever assigned (AUTOINCREMENT keeps it in
     * sqlite_sequence, even once those rows are pruned): it is owed only what happens after it
     * exists. */
    [STMT_INSERT_WEBHOOK] = "INSERT INTO webhooks (" SQLITE_WEBHOOK_FIELDS ", cursor)"
                            " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13,"
                            " coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'webhook_events'), 0))",
    [STMT_UPDATE_WEBHOOK] = "UPDATE webhooks SET url = ?2, events = ?3, surveys = ?4, filter = ?5, format = ?6,"
                            " secret = ?7, old_secret = ?8, old_secret_until = ?9, disabled_at = ?10,"
                            " disabled_reason = ?11, created_at = ?12, updated_at = ?13 WHERE id = ?1",
    [STMT_GET_WEBHOOK] = "SELECT " SQLITE_WEBHOOK_COLUMNS " FROM webhooks WHERE id = ?1",
    [STMT_LIST_WEBHOOKS] = "SELECT " SQLITE_WEBHOOK_COLUMNS " FROM webhooks ORDER BY id",
    [STMT_DELETE_WEBHOOK] = "DELETE FROM webhooks WHERE id = ?1",
    [STMT_DISABLE_WEBHOOK] = "UPDATE webhooks SET disabled_at = ?2, disabled_reason = ?3"
                             " WHERE id = ?1 AND disabled_at = 0",
    [STMT_INSERT_DELIVERY] = "INSERT INTO webhook_deliveries (" SQLITE_DELIVERY_FIELDS ") VALUES (?1, ?2, ?3, ?4,"
                             " ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18)",
    /* One statement (the writer runs it alone anyway). The ordering rule: a delivery waits while
     * an earlier one of the same subscription and subject is PENDING or SENDING; a NULL subject
     * equals nothing, so it never waits. Rows are picked earliest due first (seq breaking ties:
     * new events are due when they happen, so they go in the order they were queued), each part
     * read along its own index and stopping after max rows: a backlog of 100 000 deliveries
     * waiting out a receiver's outage costs a claim a few index seeks, not a scan of the backlog
     * (which took the writer 64 ms a claim when they were picked by seq alone). */
    [STMT_CLAIM_DELIVERIES] = "UPDATE webhook_deliveries SET state = 1, attempts = attempts + 1, lease_until = ?3,"
                              " last_attempt_at = ?2 WHERE seq IN (SELECT seq FROM ("
                              "  SELECT seq, due FROM (SELECT d.seq, d.next_attempt_at AS due"
                              "   FROM webhook_deliveries AS d WHERE d.webhook = ?1 AND d.state = 0"
                              "   AND d.next_attempt_at <= ?2 AND " SQLITE_DELIVERY_IN_ORDER
                              "   ORDER BY d.next_attempt_at, d.seq LIMIT ?4)"
                              "  UNION ALL"
                              "  SELECT seq, due FROM (SELECT d.seq, d.lease_until AS due"
                              "   FROM webhook_deliveries AS d WHERE d.webhook = ?1 AND d.state = 1"
                              "   AND d.lease_until < ?2 AND " SQLITE_DELIVERY_IN_ORDER
                              "   ORDER BY d.seq LIMIT ?4))"
                              "  WHERE EXISTS (SELECT 1 FROM webhooks AS w WHERE w.id = ?1 AND w.disabled_at = 0)"
                              "  ORDER BY due, seq LIMIT ?4)"
                              " RETURNING " SQLITE_DELIVERY_COLUMNS,
    [STMT_FINISH_DELIVERY] = "UPDATE webhook_deliveries SET state = ?2, last_status = ?3, last_error = ?4,"
                             " last_attempt_at = ?5, next_attempt_at = CASE WHEN ?2 = 0 THEN ?6 ELSE 0 END,"
                             " delivered_at = CASE WHEN ?2 = 2 THEN ?7 ELSE delivered_at END, lease_until = 0,"
                             " payload = CASE WHEN type = 'customer.erased' AND ?2 IN (2, 3) THEN '{}' ELSE payload END"
                             " WHERE id = ?1 AND state = 1",
    [STMT_REQUEUE_SENDING] = "UPDATE webhook_deliveries SET state = 0, next_attempt_at = ?1, lease_until = 0"
                             " WHERE state = 1",
    [STMT_GET_DELIVERY] = "SELECT " SQLITE_DELIVERY_COLUMNS " FROM webhook_deliveries WHERE id = ?1",
    [STMT_LIST_DELIVERIES] = "SELECT " SQLITE_DELIVERY_COLUMNS " FROM webhook_deliveries"
                             " WHERE webhook = ?1 AND seq < ?2 ORDER BY seq DESC LIMIT ?3",
    [STMT_LIST_DELIVERIES_STATE] = "SELECT " SQLITE_DELIVERY_COLUMNS " FROM webhook_deliveries"
                                   " WHERE webhook = ?1 AND state = ?4 AND seq < ?2 ORDER BY seq DESC LIMIT ?3",
    [STMT_DELIVERY_STATE] = "SELECT state FROM webhook_deliveries WHERE webhook = ?1 AND id = ?2",
    [STMT_RETRY_DELIVERY] = "UPDATE webhook_deliveries SET state = 0, next_attempt_at = ?3, window_start = ?3,"
                            " lease_until = 0 WHERE webhook = ?1 AND id = ?2 AND state <> 1",
    [STMT_REPLAY_DELIVERIES] = "UPDATE webhook_deliveries SET state = 0, next_attempt_at = ?4, window_start = ?4,"
                               " lease_until = 0 WHERE webhook = ?1 AND state IN (2, 3)"
                               " AND created_at >= ?2 AND created_at < ?3",
    /* The count the triggers keep (schema/010), and the oldest open event in two index seeks. */
    [STMT_DELIVERY_BACKLOG] = "SELECT backlog, coalesce((SELECT min(at) FROM ("
                              "  SELECT min(created_at) AS at FROM webhook_deliveries WHERE webhook = ?1 AND state = 0"
                              "  UNION ALL"
                              "  SELECT min(created_at) FROM webhook_deliveries WHERE webhook = ?1 AND state = 1)), 0)"
                              " FROM webhooks WHERE id = ?1",
    [STMT_PRUNE_DELIVERIES] = "DELETE FROM webhook_deliveries WHERE seq IN (SELECT seq FROM webhook_deliveries"
                              " WHERE state IN (2, 3) AND created_at < ?1 LIMIT ?2)",
    [STMT_DELETE_CUSTOMER_DELIVERIES] = "DELETE FROM webhook_deliveries WHERE customer = ?1",
    /* The event log (sqlite_webhooks.c; schema/011_webhook_events.sql): every read goes along seq,
     * the primary key. */
    [STMT_WEBHOOKS_ANY] = "SELECT EXISTS (SELECT 1 FROM webhooks)",
    [STMT_APPEND_EVENT] = "INSERT INTO webhook_events (id, type, survey, subject, customer, object, created_at)"
                          " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    [STMT_LIST_EVENTS] = "SELECT " SQLITE_EVENT_COLUMNS " FROM webhook_events WHERE seq > ?1 ORDER BY seq LIMIT ?2",
    [STMT_COUNT_EVENTS] = "SELECT count(*), coalesce((SELECT created_at FROM webhook_events WHERE seq > ?1"
                          " ORDER BY seq LIMIT 1), 0) FROM webhook_events WHERE seq > ?1",
    [STMT_WEBHOOK_CURSOR] = "SELECT cursor FROM webhooks WHERE id = ?1",
    [STMT_SET_WEBHOOK_CURSOR] = "UPDATE webhooks SET cursor = max(cursor, ?2) WHERE id = ?1",
    [STMT_NEWEST_EVENT] = "SELECT coalesce(max(seq), 0) FROM webhook_events",
    [STMT_NTH_NEWEST_EVENT] = "SELECT seq FROM webhook_events WHERE seq > ?1 ORDER BY seq DESC LIMIT 1 OFFSET ?2",
    [STMT_COUNT_EVENTS_TO] = "SELECT count(*) FROM webhook_events WHERE seq > ?1 AND seq <= ?2",
    /* No subscription: every event goes (min() of no row is NULL). */
    [STMT_PRUNE_EVENTS] = "DELETE FROM webhook_events WHERE seq IN (SELECT seq FROM webhook_events"
                          " WHERE seq <= (SELECT coalesce(min(cursor), 9223372036854775807) FROM webhooks)"
                          " ORDER BY seq LIMIT ?1)",
    /* An explicit seq: AUTOINCREMENT's sqlite_sequence follows the largest one by itself. */
    [STMT_IMPORT_EVENT] = "INSERT INTO webhook_events (" SQLITE_EVENT_COLUMNS ")"
                          " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    [STMT_DELETE_CUSTOMER_EVENTS] = "DELETE FROM webhook_events WHERE customer = ?1",
    /* sqlite_sequence is AUTOINCREMENT's own table, which SQLite lets a program change: its row for
     * the log appears with the first insert, so a store with no event yet needs one added. */
    [STMT_EVENT_SEQ_PAST] = "UPDATE sqlite_sequence SET seq = ?1 WHERE name = 'webhook_events' AND seq < ?1",
    [STMT_EVENT_SEQ_FIRST] = "INSERT INTO sqlite_sequence (name, seq) SELECT 'webhook_events', ?1"
                             " WHERE NOT EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = 'webhook_events')",
};

/* ---- connections ---- */

void sqlite_conn_close(struct sqlite_conn *conn)
{
    store_backend_conn_free_deltas(&conn->base);
    for (int i = 0; i < STMT_COUNT; i++)
        sqlite3_finalize(conn->stmts[i]);
    sqlite3_close_v2(conn->db);
    free(conn);
}

bool sqlite_conn_exec(sqlite3 *db, const char *sql, char *err, size_t err_size)
{
    char *message = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &message) == SQLITE_OK)
        return true;
    snprintf(err, err_size, "%s", message ? message : sqlite3_errmsg(db));
    sqlite3_free(message);
    return false;
}

/* For connections of a process that is not the database's owner (verify, backup): when SQLite closes
 * what it takes for the last connection to a WAL database, it checkpoints and deletes -wal and -shm.
 * Its "last" is judged by POSIX locks, which a serving surveyd holds; this makes sure such a tool
 * never deletes them even so: no checkpoint on close, and the WAL persists. */
void sqlite_leave_wal_alone(sqlite3 *db)
{
    int persist = 1;
    sqlite3_db_config(db, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, NULL);
    sqlite3_file_control(db, "main", SQLITE_FCNTL_PERSIST_WAL, &persist);
}

struct sqlite_conn *sqlite_conn_open(const struct sqlite_store *store, bool writer, char *err, size_t err_size)
{
    struct sqlite_conn *conn = calloc(1, sizeof *conn);
    char pragmas[256];
    int flags = (store->read_only ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE) | SQLITE_OPEN_NOMUTEX |
                (writer && !store->read_only ? SQLITE_OPEN_CREATE : 0);

    if (conn == NULL) {
        snprintf(err, err_size, "out of memory");
        return NULL;
    }
    conn->base.backend = &store_backend_sqlite;
    conn->text_language = store->text_language;
    if (sqlite3_open_v2(store->path, &conn->db, flags, NULL) != SQLITE_OK) {
        snprintf(err, err_size, "cannot open %s: %s", store->path, conn->db ? sqlite3_errmsg(conn->db) : "out of memory");
        goto fail;
    }
    sqlite3_extended_result_codes(conn->db, 1);
    if (store->read_only)
        sqlite_leave_wal_alone(conn->db);
    /* Readers wait for a checkpoint or recovery briefly; the writer must not wait long, since every
     * queued response waits behind it. */
    sqlite3_busy_timeout(conn->db, writer ? 1000 : 5000);
    snprintf(pragmas, sizeof pragmas,
             "PRAGMA foreign_keys = ON; PRAGMA synchronous = %s; PRAGMA temp_store = MEMORY;"
             " PRAGMA secure_delete = ON;",
             store->durability == STORE_DURABILITY_FULL ? "FULL" : "NORMAL");
    if (!sqlite_conn_exec(conn->db, pragmas, err, err_size))
        goto fail;
    /* The writer's page cache holds the pages every batch touches again: the right edges of the
     * time-ordered indexes, the interior pages of the random-keyed ones (customer, interaction,
     * idempotency) and the rollup tables. SQLite's default of 2 MiB let them fall out between
     * batches once the database passed a few hundred MB, and each one then came back with a
     * pread (6.0 read syscalls per POST at 1 M stored; 2.9 with 8 MiB, and no fewer with 16 MiB,
     * which cost 9.5 MB more RSS). Readers keep the default: there is one per request thread. */
    if (writer && !store->read_only && !sqlite_conn_exec(conn->db, "PRAGMA cache_size = -8192", err, err_size))
        goto fail;
    if (writer && !store_backend_conn_init_writer(&conn->base, &store_backend_sqlite)) {
        snprintf(err, err_size, "out of memory");
        goto fail;
    }
    return conn;
fail:
    sqlite_conn_close(conn);
    return NULL;
}

sqlite3_stmt *sqlite_stmt(struct sqlite_conn *conn, enum stmt_id id)
{
    if (conn->stmts[id] == NULL &&
        sqlite3_prepare_v3(conn->db, sqlite_stmt_sql[id], -1, SQLITE_PREPARE_PERSISTENT, &conn->stmts[id], NULL) != SQLITE_OK) {
        log_error("store: cannot prepare statement %d: %s", (int)id, sqlite3_errmsg(conn->db));
        return NULL;
    }
    return conn->stmts[id];
}

static void reader_release(void *arg)
{
    (void)arg; /* readers are closed by store_close; a thread's exit only forgets its pointer */
}

struct store_conn *sqlite_reader(struct store *base_store)
{
    struct sqlite_store *store = (struct sqlite_store *)base_store;
    struct sqlite_conn *conn = pthread_getspecific(store->reader_key);
    char err[256];

    if (conn != NULL)
        return &conn->base;
    conn = sqlite_conn_open(store, false, err, sizeof err);
    if (conn == NULL) {
        log_error("store: cannot open a read connection: %s", err);
        return NULL;
    }
    pthread_mutex_lock(&store->readers_lock);
    conn->next = store->readers;
    store->readers = conn;
    pthread_mutex_unlock(&store->readers_lock);
    pthread_setspecific(store->reader_key, conn);
    return &conn->base;
}

struct store_conn *sqlite_writer(struct store *base_store)
{
    struct sqlite_store *store = (struct sqlite_store *)base_store;
    return &store->writer->base;
}

const char *sqlite_last_error(struct store_conn *base_conn)
{
    struct sqlite_conn *conn = (struct sqlite_conn *)base_conn;
    return sqlite3_errmsg(conn->db);
}

/* ---- schema ---- */

static bool read_user_version(sqlite3 *db, int *version)
{
    sqlite3_stmt *s = NULL;
    bool ok = sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &s, NULL) == SQLITE_OK && sqlite3_step(s) == SQLITE_ROW;
    if (ok)
        *version = sqlite3_column_int(s, 0);
    sqlite3_finalize(s);
    return ok;
}

static bool migrate(sqlite3 *db, char *err, size_t err_size)
{
    int version;
    char sql[64];

    if (!read_user_version(db, &version)) {
        snprintf(err, err_size, "cannot read the schema version: %s", sqlite3_errmsg(db));
        return false;
    }
    if (version > schema_migration_count) {
        snprintf(err, err_size,
                 "the database has schema version %d, newer than this surveyd understands (%d): "
                 "run a newer surveyd or restore a backup",
                 version, schema_migration_count);
        return false;
    }
    for (int i = version; i < schema_migration_count; i++) {
        const struct schema_migration *m = &schema_migrations[i];
        snprintf(sql, sizeof sql, "PRAGMA user_version = %d", m->version);
        /* Each migration and its version bump commit together, or not at all. */
        if (!sqlite_conn_exec(db, "BEGIN IMMEDIATE", err, err_size))
            return false;
        if (!sqlite_conn_exec(db, m->sql, err, err_size) || !sqlite_conn_exec(db, sql, err, err_size)) {
            char detail[256];
            snprintf(detail, sizeof detail, "%s", err);
            snprintf(err, err_size, "migration %s failed: %s", m->name, detail);
            sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
            return false;
        }
        if (!sqlite_conn_exec(db, "COMMIT", err, err_size))
            return false;
        log_info("store: applied migration %s", m->name);
    }
    return true;
}

/* The database holds customers' answers: owner-only, whatever the umask. chmod by path, never
 * through a descriptor of our own (see file_contains). A file SQLite just created is still empty
 * here; -wal and -shm are created later by SQLite with the database file's mode. Existing files
 * readable by others (from an older surveyd, or a copy) are tightened, and the operator told. */
static void make_private(const char *path, bool existed)
{
    struct stat st;
    if (stat(path, &st) != 0 || (st.st_mode & (S_IRWXG | S_IRWXO)) == 0)
        return;
    if (chmod(path, S_IRUSR | S_IWUSR) != 0)
        log_warn("store: %s is accessible by others (mode %03o) and cannot be made owner-only: %s", path,
                 (unsigned)(st.st_mode & 0777), strerror(errno));
    else if (existed)
        log_warn("store: %s was accessible by others (mode %03o); it is now 0600", path,
                 (unsigned)(st.st_mode & 0777));
}

static void make_files_private(const char *db_path, bool existed)
{
    char path[4200];
    make_private(db_path, existed);
    snprintf(path, sizeof path, "%s-wal", db_path);
    make_private(path, true);
    snprintf(path, sizeof path, "%s-shm", db_path);
    make_private(path, true);
}

/* The files are owner-only, but a directory others may enter still shows their names and sizes and
 * lets them see every file a tool puts beside them. */
static void warn_if_shared(const char *data_dir)
{
    struct stat st;
    if (stat(data_dir, &st) == 0 && (st.st_mode & (S_IRWXG | S_IRWXO)) != 0)
        log_warn("store: data directory %s is readable by others (mode %03o); make it owner-only: chmod 700 %s",
                 data_dir, (unsigned)(st.st_mode & 0777), data_dir);
}

/* A read-only store cannot migrate: it needs the schema this binary was built for. */
static bool schema_current(sqlite3 *db, char *err, size_t err_size)
{
    int version;
    if (!read_user_version(db, &version)) {
        snprintf(err, err_size, "cannot read the schema version: %s", sqlite3_errmsg(db));
        return false;
    }
    if (version != schema_migration_count) {
        snprintf(err, err_size, "the database has schema version %d, this surveyd expects %d: %s", version,
                 schema_migration_count,
                 version < schema_migration_count ? "start surveyd serve once to migrate it" : "run a newer surveyd");
        return false;
    }
    return true;
}

/* SQLite counts every allocation it makes (memory status) under one process-wide mutex, taken on
 * each malloc and free by the writer and every reader thread alike; surveyd never reads those
 * counts. Must run before SQLite initialises (the first open); later, sqlite3_config refuses
 * harmlessly. */
static pthread_once_t sqlite_configured = PTHREAD_ONCE_INIT;

static void configure_sqlite(void)
{
    sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
}


/* data_dir: the folder that holds surveyd.db (the location after "sqlite:"). */
struct store *sqlite_open(const char *data_dir, const struct store_options *options, bool read_only,
                                 char *err, size_t err_size)
{
    pthread_once(&sqlite_configured, configure_sqlite);

    struct sqlite_store *store = calloc(1, sizeof *store);
    size_t path_len = strlen(data_dir) + sizeof "/surveyd.db";

    if (store == NULL || (store->path = malloc(path_len)) == NULL) {
        snprintf(err, err_size, "out of memory");
        goto fail_alloc;
    }
    store->base.backend = &store_backend_sqlite;
    snprintf(store->path, path_len, "%s/surveyd.db", data_dir);
    store->durability = options->durability;
    store->text_language = options->text_language;
    store->read_only = read_only;
    pthread_mutex_init(&store->readers_lock, NULL);
    pthread_key_create(&store->reader_key, reader_release);

    bool existed = access(store->path, F_OK) == 0;
    store->writer = sqlite_conn_open(store, true, err, err_size);
    if (store->writer == NULL)
        goto fail;
    if (!read_only) {
        make_files_private(store->path, existed);
        warn_if_shared(data_dir);
    }
    if (store->read_only) {
        if (!schema_current(store->writer->db, err, err_size))
            goto fail;
        return &store->base;
    }
    /* quick_check reads every page: too slow for big databases at start-up. The header and schema
     * reads below catch a file that is not a database at all; deeper damage surfaces as errors. */
    if (!sqlite_conn_exec(store->writer->db, "PRAGMA journal_mode = WAL", err, err_size)) {
        char detail[256];
        snprintf(detail, sizeof detail, "%s", err);
        snprintf(err, err_size, "%s: %s", store->path, detail);
        goto fail;
    }
    if (!migrate(store->writer->db, err, err_size) || !sqlite_text_sync_language(store->writer, err, err_size))
        goto fail;
    /* From here on the writer's commits never checkpoint: see sqlite_checkpointer.h. */
    store->checkpointer = wal_checkpointer_start(store->path, store->durability == STORE_DURABILITY_FULL, err, err_size);
    if (store->checkpointer == NULL)
        goto fail;
    wal_checkpointer_attach(store->checkpointer, store->writer->db);
    store->writer->checkpointer = store->checkpointer;
    return &store->base;
fail:
    sqlite_close(&store->base);
    return NULL;
fail_alloc:
    if (store)
        free(store);
    return NULL;
}

void sqlite_close(struct store *base_store)
{
    struct sqlite_store *store = (struct sqlite_store *)base_store;
    if (store == NULL)
        return;
    pthread_mutex_lock(&store->readers_lock);
    while (store->readers) {
        struct sqlite_conn *next = store->readers->next;
        sqlite_conn_close(store->readers);
        store->readers = next;
    }
    pthread_mutex_unlock(&store->readers_lock);
    wal_checkpointer_stop(store->checkpointer);
    if (store->writer && !store->read_only) {
        /* Fold the WAL back into the database so a copy of surveyd.db alone is complete. */
        sqlite3_wal_checkpoint_v2(store->writer->db, NULL, SQLITE_CHECKPOINT_TRUNCATE, NULL, NULL);
    }
    if (store->writer)
        sqlite_conn_close(store->writer);
    pthread_key_delete(store->reader_key);
    pthread_mutex_destroy(&store->readers_lock);
    free(store->path);
    free(store);
}

/* ---- helpers ---- */

enum store_status sqlite_status_of(int rc)
{
    switch (rc & 0xff) {
    case SQLITE_OK:
    case SQLITE_DONE:
    case SQLITE_ROW:
        return STORE_OK;
    case SQLITE_CONSTRAINT:
        return STORE_CONFLICT;
    case SQLITE_FULL:
    case SQLITE_IOERR:
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
    case SQLITE_READONLY:
    case SQLITE_CANTOPEN:
    case SQLITE_NOMEM:
        return STORE_UNAVAILABLE;
    default:
        return STORE_ERROR;
    }
}

int sqlite_bind_text(sqlite3_stmt *s, int index, const char *text)
{
    return text ? sqlite3_bind_text(s, index, text, -1, SQLITE_STATIC) : sqlite3_bind_null(s, index);
}

/* sqlite3_column_text() returns NULL for SQL NULL, and also when it runs out of memory making the
 * text (it may have to copy a value to terminate it); it then leaves SQLITE_NOMEM as the connection's
 * error code, which sqlite3_step() had set to SQLITE_ROW. */
bool sqlite_row_read_whole(sqlite3_stmt *s)
{
    return sqlite3_errcode(sqlite3_db_handle(s)) != SQLITE_NOMEM;
}

/* NULL for SQL NULL; a value that could not be copied (out of memory) is noted, so that the request
 * reading it fails instead of answering as if the column were empty (see oom.h). */
char *sqlite_column_text(sqlite3_stmt *s, int column)
{
    const unsigned char *text = sqlite3_column_text(s, column);
    char *copy = text ? strdup((const char *)text) : NULL;
    if ((text != NULL && copy == NULL) || !sqlite_row_read_whole(s))
        oom_note();
    return copy;
}

void sqlite_copy_column(sqlite3_stmt *s, int column, char *out, size_t size)
{
    const unsigned char *text = sqlite3_column_text(s, column);
    snprintf(out, size, "%s", text ? (const char *)text : "");
    if (!sqlite_row_read_whole(s))
        oom_note();
}

/* Runs a statement that returns no rows, then resets it. */
enum store_status sqlite_run(struct sqlite_conn *conn, sqlite3_stmt *s)
{
    int rc = s ? sqlite3_step(s) : SQLITE_ERROR;
    if (s) {
        sqlite3_reset(s);
        sqlite3_clear_bindings(s);
    }
    if (rc != SQLITE_DONE && rc != SQLITE_ROW) {
        enum store_status status = sqlite_status_of(rc);
        if (status != STORE_CONFLICT)
            log_error("store: %s", sqlite3_errmsg(conn->db));
        return status;
    }
    return STORE_OK;
}

void sqlite_done_with(sqlite3_stmt *s)
{
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
}

/* ---- transactions ---- */

enum store_status sqlite_begin(struct store_conn *base_conn)
{
    struct sqlite_conn *conn = (struct sqlite_conn *)base_conn;
    /* A batch whose commit and then rollback both failed (out of memory: even ROLLBACK's statement
     * could not be prepared) left its transaction open; nothing of it may commit with this one. */
    if (!sqlite3_get_autocommit(conn->db) && sqlite3_exec(conn->db, "ROLLBACK", NULL, NULL, NULL) != SQLITE_OK) {
        log_error("store: cannot roll back an earlier failed batch: %s", sqlite3_errmsg(conn->db));
        return STORE_UNAVAILABLE;
    }
    return sqlite_run(conn, sqlite_stmt(conn, STMT_BEGIN));
}

static void bind_cell(sqlite3_stmt *s, const struct rollup_cell *c)
{
    sqlite3_bind_text(s, 1, c->survey, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 2, c->day);
    sqlite3_bind_text(s, 3, c->channel, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 4, c->question, -1, SQLITE_STATIC);
    if (c->value_is_text)
        sqlite3_bind_text(s, 5, c->value_text, -1, SQLITE_STATIC);
    else
        sqlite3_bind_int64(s, 5, c->value);
    sqlite3_bind_int64(s, 6, c->delta);
    if (sqlite3_bind_parameter_count(s) >= 7)
        sqlite3_bind_text(s, 7, c->agent, -1, SQLITE_STATIC);
}

struct flush {
    struct sqlite_conn *conn;
    enum store_status status;
};

static bool flush_cell(const struct rollup_cell *cell, void *arg)
{
    static const enum stmt_id upserts[] = {
        [ROLLUP_ANSWERS] = STMT_UPSERT_ANSWERS,       [ROLLUP_ANSWERS_AGENT] = STMT_UPSERT_ANSWERS_AGENT,
        [ROLLUP_RESPONSES] = STMT_UPSERT_RESPONSES,   [ROLLUP_RESPONSES_AGENT] = STMT_UPSERT_RESPONSES_AGENT,
        [ROLLUP_ANSWERED] = STMT_UPSERT_ANSWERED,
        [ROLLUP_ANSWERS_MONTH] = STMT_UPSERT_ANSWERS_MONTH,
        [ROLLUP_RESPONSES_MONTH] = STMT_UPSERT_RESPONSES_MONTH,
        [ROLLUP_ANSWERS_HOUR] = STMT_UPSERT_ANSWERS_HOUR,
        [ROLLUP_RESPONSES_HOUR] = STMT_UPSERT_RESPONSES_HOUR,
    };
    struct flush *flush = arg;
    sqlite3_stmt *s = sqlite_stmt(flush->conn, upserts[cell->table]);
    if (s == NULL) {
        flush->status = STORE_ERROR;
        return false;
    }
    bind_cell(s, cell);
    flush->status = sqlite_run(flush->conn, s);
    return flush->status == STORE_OK;
}

/* Writes the batch's rollup changes, one statement per distinct cell, and its text index changes,
 * then commits: the raw rows, their rollups and their index entries land in the same transaction,
 * or none does. */
enum store_status sqlite_commit(struct store_conn *base_conn, const struct rollup_deltas *deltas)
{
    struct sqlite_conn *conn = (struct sqlite_conn *)base_conn;
    struct flush flush = {conn, STORE_OK};
    rollup_deltas_each(deltas, flush_cell, &flush);
    if (flush.status != STORE_OK)
        return flush.status;
    /* Tags first: they read the batch's documents from text_pending, which the flush empties. */
    enum store_status status = sqlite_topics_tag_pending(conn);
    if (status == STORE_OK)
        status = sqlite_text_flush(conn);
    if (status != STORE_OK)
        return status;
    return sqlite_run(conn, sqlite_stmt(conn, STMT_COMMIT));
}

void sqlite_rollback(struct store_conn *base_conn)
{
    struct sqlite_conn *conn = (struct sqlite_conn *)base_conn;
    /* After some errors (SQLITE_FULL, SQLITE_IOERR) SQLite has already rolled back; ROLLBACK then
     * fails harmlessly with "no transaction is active". */
    if (!sqlite3_get_autocommit(conn->db))
        sqlite_run(conn, sqlite_stmt(conn, STMT_ROLLBACK));
}

enum store_status sqlite_savepoint(struct store_conn *base_conn)
{
    struct sqlite_conn *conn = (struct sqlite_conn *)base_conn;
    return sqlite_run(conn, sqlite_stmt(conn, STMT_SAVEPOINT));
}

void sqlite_release(struct store_conn *base_conn)
{
    struct sqlite_conn *conn = (struct sqlite_conn *)base_conn;
    sqlite_run(conn, sqlite_stmt(conn, STMT_RELEASE));
}

void sqlite_rollback_to(struct store_conn *base_conn)
{
    struct sqlite_conn *conn = (struct sqlite_conn *)base_conn;
    if (!sqlite3_get_autocommit(conn->db)) {
        sqlite_run(conn, sqlite_stmt(conn, STMT_ROLLBACK_TO));
        sqlite_run(conn, sqlite_stmt(conn, STMT_RELEASE));
    }
}

const struct store_backend store_backend_sqlite = {
    .name = "sqlite",
    .shared = false, /* one process owns the file */
    .open = sqlite_open,
    .close = sqlite_close,
    .reader = sqlite_reader,
    .writer = sqlite_writer,
    .last_error = sqlite_last_error,
    .begin = sqlite_begin,
    .commit = sqlite_commit,
    .rollback = sqlite_rollback,
    .savepoint = sqlite_savepoint,
    .release = sqlite_release,
    .rollback_to = sqlite_rollback_to,
    .between_batches = sqlite_between_batches,
    .text_search = true,
    .topic_rollups = true,
    .get_survey = sqlite_get_survey,
    .survey_unchanged = sqlite_survey_unchanged,
    .list_surveys = sqlite_list_surveys,
    .put_survey = sqlite_put_survey,
    .delete_survey = sqlite_delete_survey,
    .answer_count = sqlite_answer_count,
    .get_response = sqlite_get_response,
    .insert_response = sqlite_insert_response,
    .list_responses = sqlite_list_responses,
    .iter_open = sqlite_iter_open,
    .iter_next = sqlite_iter_next,
    .iter_pause = sqlite_iter_pause,
    .iter_close = sqlite_iter_close,
    .update_answers = sqlite_update_answers,
    .delete_response = sqlite_delete_response,
    .erase_customer = sqlite_erase_customer,
    .delete_before = sqlite_delete_before,
    .purge = sqlite_purge,
    .customer_traces = sqlite_customer_traces,
    .get_idempotency = sqlite_get_idempotency,
    .save_idempotency = sqlite_save_idempotency,
    .get_edit_token = sqlite_get_edit_token,
    .metrics_begin = sqlite_metrics_begin,
    .metrics_end = sqlite_metrics_end,
    .metrics_range = sqlite_metrics_range,
    .day_span = sqlite_day_span,
    .data_version = sqlite_data_version,
    .insert_invitation = sqlite_insert_invitation,
    .get_invitation = sqlite_get_invitation,
    .find_invitation_by_token = sqlite_find_invitation_by_token,
    .update_invitation = sqlite_update_invitation,
    .last_contact = sqlite_last_contact,
    .invitation_range = sqlite_invitation_range,
    .put_webhook = sqlite_put_webhook,
    .get_webhook = sqlite_get_webhook,
    .list_webhooks = sqlite_list_webhooks,
    .delete_webhook = sqlite_delete_webhook,
    .put_topic = sqlite_put_topic,
    .get_topic = sqlite_get_topic,
    .list_topics = sqlite_list_topics,
    .delete_topic = sqlite_delete_topic,
    .count_topics = sqlite_count_topics,
    .topic_backfill = sqlite_topic_backfill,
    .disable_webhook = sqlite_disable_webhook,
    .insert_delivery = sqlite_insert_delivery,
    .claim_deliveries = sqlite_claim_deliveries,
    .finish_delivery = sqlite_finish_delivery,
    .requeue_sending = sqlite_requeue_sending,
    .get_delivery = sqlite_get_delivery,
    .list_deliveries = sqlite_list_deliveries,
    .retry_delivery = sqlite_retry_delivery,
    .replay_deliveries = sqlite_replay_deliveries,
    .delivery_backlog = sqlite_delivery_backlog,
    .prune_deliveries = sqlite_prune_deliveries,
    .webhooks_exist = sqlite_webhooks_exist,
    .append_event = sqlite_append_event,
    .list_events = sqlite_list_events,
    .count_events = sqlite_count_events,
    .lock_webhook_cursor = sqlite_lock_webhook_cursor,
    .set_webhook_cursor = sqlite_set_webhook_cursor,
    .trim_webhook_backlog = sqlite_trim_webhook_backlog,
    .prune_events = sqlite_prune_events,
    .import_event = sqlite_import_event,
    .event_seq_past = sqlite_event_seq_past,
    .verify = sqlite_verify,
    .each_answers = sqlite_each_answers,
    .backup = sqlite_backup,
    .dump = sqlite_dump,
    .size_bytes = sqlite_size_bytes,
    .probe_write = sqlite_probe_write,
    .ping = sqlite_ping,
};
