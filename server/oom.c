#include "oom.h"

#include <cjson/cJSON.h>
#include <stdlib.h>

static _Thread_local bool failed;

static void *noting_malloc(size_t size)
{
    void *p = malloc(size);
    if (p == NULL)
        failed = true;
    return p;
}

void oom_install(void)
{
    cJSON_Hooks hooks = {noting_malloc, free};
    cJSON_InitHooks(&hooks);
}

void oom_note(void)
{
    failed = true;
}

void oom_clear(void)
{
    failed = false;
}

bool oom_failed(void)
{
    return failed;
}

bool oom_add_item(cJSON *object, const char *name, cJSON *item)
{
    if (item == NULL)
        return false;
    if (cJSON_AddItemToObject(object, name, item))
        return true;
    cJSON_Delete(item);
    failed = true;
    return false;
}

bool oom_append_item(cJSON *array, cJSON *item)
{
    if (item == NULL)
        return false;
    if (cJSON_AddItemToArray(array, item))
        return true;
    cJSON_Delete(item);
    failed = true;
    return false;
}
