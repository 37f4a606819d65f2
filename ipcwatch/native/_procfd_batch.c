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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/stat.h>
#include <unistd.h>

#include "_grow.h"

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

typedef int (*Visit)(void *ctx, int dir_fd, long long pid);  /* 0, or an errno that ends the walk */

/* visit(ctx, its directory fd, pid) for every process under the open proc root, in directory order, one directory
 * open at a time. Without the GIL; 0 or an errno. */
static int walk(int root_fd, Visit visit, void *ctx)
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
            err = visit(ctx, dir_fd, pid);
            close(dir_fd);
        }
        if (err != 0)
            break;
    }
    free(buf);
    return err;
}

/* walk under the proc root at `path`. Without the GIL; 0 or an errno. */
static int walk_root(const char *path, Visit visit, void *ctx)
{
    int root_fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (root_fd < 0)
        return errno;
    int err = walk(root_fd, visit, ctx);
    close(root_fd);
    return err;
}

static int read_one(void *store, int dir_fd, long long pid)
{
    return procfd_read_dir(store, dir_fd, pid);
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
    int err;
    Py_BEGIN_ALLOW_THREADS
    err = walk_root(PyBytes_AS_STRING(root_bytes), read_one, s);
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

/* ns_keys: the namespaces of every process, for the discovery (see _procfd.c). */
#define MAX_TYPES 8

typedef struct {
    long long pid;
    int err[MAX_TYPES];                 /* 0: dev and ino read; else the errno of fstatat ns/TYPE */
    unsigned long long dev[MAX_TYPES], ino[MAX_TYPES];
    long long links;                    /* st_nlink of task (threads + 2), -1 when it cannot be stat'ed */
} NsRead;

typedef struct {
    NsRead *items;
    size_t n, cap;
    char paths[MAX_TYPES][32];          /* "ns/TYPE" */
    Py_ssize_t ntypes;
} NsList;

static int ns_one(void *ctx, int dir_fd, long long pid)
{
    NsList *l = ctx;
    if (grow((void **)&l->items, &l->cap, l->n + 1, sizeof(NsRead)) < 0)
        return ENOMEM;
    NsRead *r = &l->items[l->n++];
    struct stat st;
    r->pid = pid;
    for (Py_ssize_t t = 0; t < l->ntypes; t++) {
        r->err[t] = fstatat(dir_fd, l->paths[t], &st, 0) == 0 ? 0 : errno;
        r->dev[t] = r->err[t] ? 0 : (unsigned long long)st.st_dev;
        r->ino[t] = r->err[t] ? 0 : (unsigned long long)st.st_ino;
    }
    r->links = fstatat(dir_fd, "task", &st, 0) == 0 ? (long long)st.st_nlink : -1;
    return 0;
}

static PyObject *ns_tuple(const NsList *l, const NsRead *r)
{
    PyObject *keys = PyTuple_New(l->ntypes);
    for (Py_ssize_t t = 0; keys != NULL && t < l->ntypes; t++) {
        PyObject *key = r->err[t] ? PyLong_FromLong(r->err[t]) : Py_BuildValue("(KK)", r->dev[t], r->ino[t]);
        if (key == NULL)
            Py_CLEAR(keys);
        else
            PyTuple_SET_ITEM(keys, t, key);
    }
    if (keys == NULL)
        return NULL;
    if (r->links < 0)
        return Py_BuildValue("(LNO)", r->pid, keys, Py_None);
    return Py_BuildValue("(LNL)", r->pid, keys, r->links);
}

PyObject *procfd_ns_keys(PyObject *self, PyObject *args)
{
    (void)self;
    PyObject *root_bytes, *types;
    if (!PyArg_ParseTuple(args, "O&O!:ns_keys", PyUnicode_FSConverter, &root_bytes, &PyTuple_Type, &types))
        return NULL;
    PyObject *result = NULL;
    NsList l = {0};
    l.ntypes = PyTuple_GET_SIZE(types);
    if (l.ntypes > MAX_TYPES) {
        PyErr_SetString(PyExc_ValueError, "at most 8 namespace types");
        goto done;
    }
    for (Py_ssize_t t = 0; t < l.ntypes; t++) {
        const char *name = PyUnicode_Check(PyTuple_GET_ITEM(types, t)) ? PyUnicode_AsUTF8(PyTuple_GET_ITEM(types, t))
                                                                         : NULL;
        if (name == NULL || strlen(name) > 16 || strchr(name, '/') != NULL) {
            if (!PyErr_Occurred())
                PyErr_SetString(PyExc_ValueError, "types must be namespace type names");
            goto done;
        }
        snprintf(l.paths[t], sizeof l.paths[t], "ns/%s", name);
    }
    int err;
    Py_BEGIN_ALLOW_THREADS
    err = walk_root(PyBytes_AS_STRING(root_bytes), ns_one, &l);
    Py_END_ALLOW_THREADS
    if (err != 0) {
        errno = err;
        PyErr_SetFromErrno(PyExc_OSError);
        goto done;
    }
    result = PyList_New((Py_ssize_t)l.n);
    for (size_t i = 0; result != NULL && i < l.n; i++) {
        PyObject *item = ns_tuple(&l, &l.items[i]);
        if (item == NULL)
            Py_CLEAR(result);
        else
            PyList_SET_ITEM(result, (Py_ssize_t)i, item);
    }
done:
    free(l.items);
    Py_DECREF(root_bytes);
    return result;
}
