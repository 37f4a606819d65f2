/* shared_maps of the _procfd extension (see _procfd.c for its contract), kept in its own file of that extension.
 *
 * PROCMAP_QUERY (Linux 6.11+) asks the kernel for the next shared, file-backed mapping at or after an address,
 * instead of reading and parsing the whole maps text. The struct and ioctl number are spelled out here (the
 * same as <linux/fs.h>) so that the helper builds against older kernel headers too.
 */
#define _GNU_SOURCE
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include "_procfd.h"
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/types.h>
#include <sys/ioctl.h>
#include <sys/sysmacros.h>

#include "_grow.h"

struct procmap_query_v1 {
    uint64_t size, query_flags, query_addr, vma_start, vma_end, vma_flags, vma_page_size, vma_offset, inode;
    uint32_t dev_major, dev_minor, vma_name_size, build_id_size;
    uint64_t vma_name_addr, build_id_addr;
};

#define PROCMAP_QUERY_NR ((3UL << 30) | (104UL << 16) | ((unsigned long)'f' << 8) | 17UL)
#define VMA_READ 0x1
#define VMA_WRITE 0x2
#define VMA_SHARED 0x8
#define NEXT_VMA 0x10
#define FILE_BACKED 0x20
#define NAME_CAP 4096

typedef struct {
    unsigned char mode;                 /* index into mode_texts */
    unsigned long long dev, inode;
    size_t name_off, name_len;
} MapItem;

/* The shared mappings of any number of processes, kept without the GIL until procfd_map_tuples converts a range. */
typedef struct MapList {
    MapItem *items;
    size_t n_items, cap_items;
    char *names;
    size_t names_used, cap_names;
} MapList;

static const char *mode_texts[4] = {"-", "r", "w", "rw"};


MapList *procfd_map_list(void)
{
    return calloc(1, sizeof(MapList));
}

void procfd_map_list_free(MapList *list)
{
    if (list != NULL) {
        free(list->items);
        free(list->names);
        free(list);
    }
}

size_t procfd_map_count(const MapList *list)
{
    return list->n_items;
}

/* Append the shared file-backed mappings of an open maps fd to the list; *sysv set when one is a SysV segment
 * (its name starts with /SYSV). Without the GIL; 0 or an errno (the mappings of a file that failed are dropped). */
int procfd_map_collect(MapList *list, int maps_fd, size_t *first, int *sysv)
{
    _Static_assert(sizeof(struct procmap_query_v1) == 104, "struct procmap_query is 104 bytes");
    size_t items_before = list->n_items, names_before = list->names_used;
    uint64_t addr = 0;
    int err = 0;
    *first = items_before;
    *sysv = 0;
    for (;;) {
        if (grow((void **)&list->items, &list->cap_items, list->n_items + 1, sizeof(MapItem)) < 0
            || grow((void **)&list->names, &list->cap_names, list->names_used + NAME_CAP, 1) < 0) {
            err = ENOMEM;
            break;
        }
        char *name = list->names + list->names_used;
        struct procmap_query_v1 q = {
            .size = sizeof q,
            .query_flags = NEXT_VMA | VMA_SHARED | FILE_BACKED,
            .query_addr = addr,
            .vma_name_size = NAME_CAP,
            .vma_name_addr = (uint64_t)(uintptr_t)name,
        };
        if (ioctl(maps_fd, PROCMAP_QUERY_NR, &q) != 0) {
            err = errno == ENOENT ? 0 : errno;  /* ENOENT: no mapping after addr */
            break;
        }
        if (q.vma_end <= addr) {        /* never from a sane kernel: never loop forever */
            err = EIO;
            break;
        }
        MapItem *item = &list->items[list->n_items++];
        item->mode = (unsigned char)(((q.vma_flags & VMA_READ) ? 1 : 0) | ((q.vma_flags & VMA_WRITE) ? 2 : 0));
        item->dev = (unsigned long long)makedev(q.dev_major, q.dev_minor);
        item->inode = (unsigned long long)q.inode;
        item->name_off = list->names_used;
        item->name_len = q.vma_name_size > 0 && q.vma_name_size <= NAME_CAP ? q.vma_name_size - 1 : 0;
        list->names_used += item->name_len;
        *sysv = *sysv || (item->name_len >= 5 && memcmp(name, "/SYSV", 5) == 0);
        addr = q.vma_end;
    }
    if (err != 0) {
        list->n_items = items_before;
        list->names_used = names_before;
    }
    return err;
}

/* The tuples of mappings [first, end) of the list (with the GIL); NULL with an exception set. */
PyObject *procfd_map_tuples(const MapList *list, size_t first, size_t end)
{
    PyObject *out = PyList_New((Py_ssize_t)(end - first));
    for (size_t i = first; out != NULL && i < end; i++) {
        const MapItem *m = &list->items[i];
        PyObject *item = Py_BuildValue("(sKKy#)", mode_texts[m->mode], m->dev, m->inode, list->names + m->name_off,
                                       (Py_ssize_t)m->name_len);
        if (item == NULL)
            Py_CLEAR(out);
        else
            PyList_SET_ITEM(out, (Py_ssize_t)(i - first), item);
    }
    return out;
}

PyObject *procfd_shared_maps(PyObject *self, PyObject *args)
{
    (void)self;
    int maps_fd;
    if (!PyArg_ParseTuple(args, "i:shared_maps", &maps_fd))
        return NULL;
    MapList *list = procfd_map_list();
    if (list == NULL)
        return PyErr_NoMemory();
    int err, sysv;
    size_t first;
    Py_BEGIN_ALLOW_THREADS
    err = procfd_map_collect(list, maps_fd, &first, &sysv);
    Py_END_ALLOW_THREADS
    PyObject *out = NULL;
    if (err != 0) {
        errno = err;
        PyErr_SetFromErrno(PyExc_OSError);
    } else
        out = procfd_map_tuples(list, first, list->n_items);
    procfd_map_list_free(list);
    return out;
}
