/* grow(): the one growable-array helper of the compiled readers (_posixread*.c, _procfd*.c, _objjson.c). */
#ifndef IPCWATCH_GROW_H
#define IPCWATCH_GROW_H

#include <stdlib.h>

/* Make room for `need` items of `size` bytes in *buf (capacity *cap, doubled from 64): 0, or -1 out of memory. */
static inline int grow(void **buf, size_t *cap, size_t need, size_t size)
{
    if (need <= *cap)
        return 0;
    size_t cap2 = *cap ? *cap * 2 : 64;
    while (cap2 < need)
        cap2 *= 2;
    void *p = realloc(*buf, cap2 * size);
    if (p == NULL)
        return -1;
    *buf = p;
    *cap = cap2;
    return 0;
}

#endif
