/* shared_maps of the _procfd extension (see _procfd.c for its contract), kept in its own file of that extension.
 *
 * PROCMAP_QUERY (Linux 6.11+) asks the kernel for the next shared, file-backed mapping at or after an address,
 * instead of reading and parsing the whole maps text. The struct and ioctl number are spelled out here (the
 * same as <linux/fs.h>) so that the helper builds against older kernel headers too.
 */
#define _GNU_SOURCE
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <errno.h>
#include <stdint.h>
#include <sys/ioctl.h>
#include <sys/sysmacros.h>

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

PyObject *procfd_shared_maps(PyObject *self, PyObject *args);
PyObject *procfd_maps_of(int maps_fd);

PyObject *procfd_shared_maps(PyObject *self, PyObject *args)
{
    (void)self;
    int maps_fd;
    if (!PyArg_ParseTuple(args, "i:shared_maps", &maps_fd))
        return NULL;
    return procfd_maps_of(maps_fd);
}

/* The list shared_maps returns; NULL with an exception set (OSError with the errno). */
PyObject *procfd_maps_of(int maps_fd)
{
    _Static_assert(sizeof(struct procmap_query_v1) == 104, "struct procmap_query is 104 bytes");
    char *name = PyMem_RawMalloc(NAME_CAP);
    PyObject *out = PyList_New(0);
    if (name == NULL || out == NULL) {
        PyMem_RawFree(name);
        Py_XDECREF(out);
        return PyErr_NoMemory();
    }
    uint64_t addr = 0;
    for (;;) {
        struct procmap_query_v1 q = {
            .size = sizeof q,
            .query_flags = NEXT_VMA | VMA_SHARED | FILE_BACKED,
            .query_addr = addr,
            .vma_name_size = NAME_CAP,
            .vma_name_addr = (uint64_t)(uintptr_t)name,
        };
        int rc, err = 0;
        Py_BEGIN_ALLOW_THREADS
        rc = ioctl(maps_fd, PROCMAP_QUERY_NR, &q);
        if (rc != 0)
            err = errno;
        Py_END_ALLOW_THREADS
        if (rc != 0) {
            if (err == ENOENT)          /* no mapping after addr */
                break;
            errno = err;
            PyErr_SetFromErrno(PyExc_OSError);
            Py_CLEAR(out);
            break;
        }
        const char *mode = (q.vma_flags & VMA_READ) ? ((q.vma_flags & VMA_WRITE) ? "rw" : "r")
                                                     : ((q.vma_flags & VMA_WRITE) ? "w" : "-");
        Py_ssize_t name_len = q.vma_name_size > 0 && q.vma_name_size <= NAME_CAP ? (Py_ssize_t)q.vma_name_size - 1 : 0;
        PyObject *item = Py_BuildValue("(sKKy#)", mode, (unsigned long long)makedev(q.dev_major, q.dev_minor),
                                       (unsigned long long)q.inode, name, name_len);
        if (item == NULL || PyList_Append(out, item) < 0) {
            Py_XDECREF(item);
            Py_CLEAR(out);
            break;
        }
        Py_DECREF(item);
        if (q.vma_end <= addr) {        /* never from a sane kernel: never loop forever */
            PyErr_SetString(PyExc_OSError, "PROCMAP_QUERY did not advance");
            Py_CLEAR(out);
            break;
        }
        addr = q.vma_end;
    }
    PyMem_RawFree(name);
    return out;
}
