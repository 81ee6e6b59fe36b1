/* Out of memory as an error, never a silently wrong reply or write.
 *
 * cJSON reports a failed allocation only by returning NULL, and its builders pass that on quietly:
 * an object missing a member, or a parse that "fails" on a valid document, still prints and looks
 * like an answer. Checking every one of hundreds of calls would be fragile, so instead every
 * allocation failure is noted in a per-thread flag: cJSON's through allocation hooks, ours through
 * oom_note(). The two places that decide what reaches a client or the disk consult it: http.c turns
 * a reply built on a thread that saw a failure into 500, and a writer job that saw one is rolled back.
 *
 * The flag is per thread because a request's work runs on one thread at a time (an HTTP worker, then
 * the writer, then a worker again), and each of those clears it before the work it guards. */
#ifndef SURVEYD_OOM_H
#define SURVEYD_OOM_H

#include <cjson/cJSON.h>
#include <stdbool.h>

/* Routes cJSON's allocations through the noting allocator. Once, before any thread starts. */
void oom_install(void);

/* An allocation failed on this thread. */
void oom_note(void);

/* Forgets earlier failures on this thread, before a piece of work whose outcome depends on them. */
void oom_clear(void);

/* Did an allocation fail on this thread since oom_clear()? */
bool oom_failed(void);

/* cJSON_AddItemToObject and cJSON_AddItemToArray, except that item is owned whatever happens.
 * cJSON's own leave an item they could not add (the key's copy failed, or object is NULL because
 * its own allocation failed) to the caller, and nearly every caller passes a tree it just built
 * and keeps no pointer to: that tree leaked. These delete it instead and note the failure (the
 * reply is missing a member). A NULL item is no failure here (it was noted when its allocation
 * failed, or it is a lookup that found nothing) and adds nothing. */
bool oom_add_item(cJSON *object, const char *name, cJSON *item);
bool oom_append_item(cJSON *array, cJSON *item);

#endif
