/* read_processes of the _procfd extension (see _procfd.c for its contract): every /proc/PID under a root, read
 * one after the other in one call with the GIL released throughout (the read of each is _procfd_process.c's).
 *
 * It opens one /proc/PID directory at a time (and that process's fd directory and maps file): never one fd per
 * process, and each process is read through its own directory fd, so a pid recycled mid-read fails instead of
 * mixing two processes.
 */
#define _GNU_SOURCE
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include "_procfd.h"
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#define DIR_BUF (32 * 1024)
#define NAME_AT 19  /* offsetof(struct linux_dirent64, d_name) */

/* The pid a /proc entry name spells (digits only, at most 18 of them), or -1. */
static long long pid_of(const char *name)
{
    long long pid = 0;
    size_t len = strlen(name);
    if (len == 0 || len > 18)
        return -1;
    for (size_t i = 0; i < len; i++) {
        if (name[i] < '0' || name[i] > '9')
            return -1;
        pid = pid * 10 + (name[i] - '0');
    }
    return pid;
}

/* Every process under the open proc root, in directory order. Without the GIL; 0 or an errno. */
static int read_all(Store *s, int root_fd)
{
    char *buf = malloc(DIR_BUF);
    if (buf == NULL)
        return ENOMEM;
    int err = 0;
    for (;;) {
        long got = syscall(SYS_getdents64, root_fd, buf, DIR_BUF);
        if (got <= 0) {
            err = got < 0 ? errno : 0;
            break;
        }
        for (long pos = 0; pos < got && err == 0;) {
            unsigned short reclen;
            memcpy(&reclen, buf + pos + 16, sizeof reclen);
            if (got - pos <= NAME_AT || reclen <= NAME_AT || reclen > got - pos
                || memchr(buf + pos + NAME_AT, '\0', reclen - NAME_AT) == NULL) {
                err = EIO;              /* a malformed record (never from a sane kernel) */
                break;
            }
            const char *name = buf + pos + NAME_AT;
            long long pid = pid_of(name);
            pos += reclen;
            if (pid < 0)
                continue;
            int dir_fd = openat(root_fd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
            if (dir_fd < 0)
                continue;               /* gone since the listing */
            err = procfd_read_dir(s, dir_fd, pid);
            close(dir_fd);
        }
        if (err != 0)
            break;
    }
    free(buf);
    return err;
}

PyObject *procfd_read_processes(PyObject *self, PyObject *args)
{
    (void)self;
    PyObject *root_bytes, *file_devs;
    int maps_mode, read_anon, read_waits = 0;
    if (!PyArg_ParseTuple(args, "O&Oip|p:read_processes", PyUnicode_FSConverter, &root_bytes, &file_devs, &maps_mode,
                          &read_anon, &read_waits))
        return NULL;
    unsigned long long *devs = NULL;
    Py_ssize_t n_devs = 0;
    PyObject *result = NULL;
    if (maps_mode < 0 || maps_mode > 3) {
        PyErr_SetString(PyExc_ValueError, "maps_mode must be 0, 1, 2 or 3");
        goto done;
    }
    if (procfd_collect_devs(file_devs, &devs, &n_devs) < 0)
        goto done;
    Store *s = procfd_store(devs, n_devs, maps_mode, read_anon, read_waits);
    if (s == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    int err = 0;
    Py_BEGIN_ALLOW_THREADS
    int root_fd = open(PyBytes_AS_STRING(root_bytes), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (root_fd < 0)
        err = errno;
    else {
        err = read_all(s, root_fd);
        close(root_fd);
    }
    Py_END_ALLOW_THREADS
    if (err != 0) {
        errno = err;
        PyErr_SetFromErrno(PyExc_OSError);
    } else
        result = PyList_New((Py_ssize_t)procfd_store_count(s));
    for (size_t i = 0; result != NULL && i < procfd_store_count(s); i++) {
        PyObject *item = procfd_proc_tuple(s, i);
        if (item == NULL)
            Py_CLEAR(result);
        else
            PyList_SET_ITEM(result, (Py_ssize_t)i, item);
    }
    procfd_store_free(s);
done:
    Py_DECREF(root_bytes);
    PyMem_Free(devs);
    return result;
}
