/* The scan's file reads in one call per directory (/dev/shm, /dev/mqueue) or walk (FIFO and socket files), with the
 * GIL released around the system calls (the compiled helper; ipcwatch/native/posixread.py holds the pure-Python
 * twin and picks one).
 *
 * list_files(dir_fd) -> (entries, failed)
 *     Every entry of the open directory (from its start, "." and ".." left out; the offset is left at the start) in
 *     directory order: entries is [(name, Lstat of its lstat)], failed is [(name, errno)] for an lstat that
 *     failed with another error than ENOENT (an entry removed meanwhile is left out). name is decoded like
 *     os.fsdecode. OSError when the directory cannot be read.
 * read_files(dir_fd, items, nbytes, mq_attrs) -> list[int | (bytes, attrs)]
 *     For each (name, st_dev, st_ino) of items: the file opened under dir_fd with O_NOFOLLOW | O_NONBLOCK (never a
 *     link followed, never a FIFO waited on), checked to be a regular file with that dev and inode, then up to nbytes
 *     read from offset 0 (one pread) and, with mq_attrs, its queue attributes (mq_getattr: flags, maxmsg, msgsize,
 *     curmsgs; None without). In place of the tuple: the errno of the call that failed, -1 for a file that is not a
 *     regular file, -2 for a file replaced since it was listed (another dev or inode).
 * special_files(roots, depth, budget) -> (found, exhausted)
 *     The FIFO and socket files under `roots`, `depth` levels down, never following a symlink below a root: a
 *     depth-first walk (the last root first, each directory's entries in directory order, a directory visited once
 *     by its st_dev and inode) that stops taking directories once `budget` entries were seen. found is, in the order
 *     met, (path, Lstat of its lstat) for each FIFO or socket and (path, errno) for a root that could not be
 *     read (a missing one is skipped); exhausted is True when the budget ran out. It lives in _posixread_walk.c.
 */
#define _GNU_SOURCE
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <mqueue.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
#include "_grow.h"

#define NOT_REGULAR -1
#define REPLACED -2

/* The fields of an lstat the scan uses, as os.stat_result names them and fills them (st_mtime and st_ctime are
 * floats): a struct sequence of 9 items, a third of an os.stat_result's memory (~640 bytes with its 22 items). */
static PyStructSequence_Field lstat_fields[] = {
    {"st_mode", NULL}, {"st_ino", NULL}, {"st_dev", NULL}, {"st_uid", NULL}, {"st_gid", NULL},
    {"st_size", NULL}, {"st_blocks", NULL}, {"st_mtime", NULL}, {"st_ctime", NULL}, {NULL, NULL},
};
static PyStructSequence_Desc lstat_desc = {
    "ipcwatch.native._posixread.Lstat", "The fields of an lstat the scan uses.", lstat_fields, 9,
};
static PyTypeObject *lstat_type;

static PyObject *uid_object(unsigned long id)
{
    return id == (unsigned long)(uid_t)-1 ? PyLong_FromLong(-1) : PyLong_FromUnsignedLong(id);
}

PyObject *posixread_stat_object(const struct stat *st);
PyObject *posixread_special_files(PyObject *self, PyObject *args);  /* _posixread_walk.c */

/* The Lstat of st, its fields as os.lstat fills them. */
PyObject *posixread_stat_object(const struct stat *st)
{
    PyObject *t = PyStructSequence_New(lstat_type);
    if (t == NULL)
        return NULL;
    PyStructSequence_SET_ITEM(t, 0, PyLong_FromLong((long)st->st_mode));
    PyStructSequence_SET_ITEM(t, 1, PyLong_FromUnsignedLongLong((unsigned long long)st->st_ino));
    PyStructSequence_SET_ITEM(t, 2, PyLong_FromUnsignedLongLong((unsigned long long)st->st_dev));
    PyStructSequence_SET_ITEM(t, 3, uid_object((unsigned long)st->st_uid));
    PyStructSequence_SET_ITEM(t, 4, uid_object((unsigned long)st->st_gid));
    PyStructSequence_SET_ITEM(t, 5, PyLong_FromLongLong((long long)st->st_size));
    PyStructSequence_SET_ITEM(t, 6, PyLong_FromLong((long)st->st_blocks));
    PyStructSequence_SET_ITEM(t, 7, PyFloat_FromDouble(st->st_mtim.tv_sec + st->st_mtim.tv_nsec * 1e-9));
    PyStructSequence_SET_ITEM(t, 8, PyFloat_FromDouble(st->st_ctim.tv_sec + st->st_ctim.tv_nsec * 1e-9));
    for (int i = 0; i < 9; i++)
        if (PyStructSequence_GET_ITEM(t, i) == NULL) {
            Py_DECREF(t);
            return NULL;
        }
    return t;
}

typedef struct {
    size_t name_off;
    int err;                            /* 0: st is its lstat */
    struct stat st;
} Listed;

typedef struct {
    Listed *items;
    size_t count, cap;
    char *names;
    size_t names_len, names_cap;
} Listing;

/* Read the directory; 0, or an errno. Called without the GIL. */
static int list_into(int dir_fd, Listing *out)
{
    int fd = dup(dir_fd);
    if (fd < 0)
        return errno;
    DIR *dir = fdopendir(fd);
    if (dir == NULL) {
        int err = errno;
        close(fd);
        return err;
    }
    rewinddir(dir);
    int err = 0;
    while (1) {
        errno = 0;
        struct dirent *entry = readdir(dir);
        if (entry == NULL) {
            err = errno;
            break;
        }
        const char *name = entry->d_name;
        if (name[0] == '.' && (name[1] == '\0' || (name[1] == '.' && name[2] == '\0')))
            continue;
        size_t len = strlen(name) + 1;
        if (grow((void **)&out->items, &out->cap, out->count + 1, sizeof *out->items) < 0 ||
            grow((void **)&out->names, &out->names_cap, out->names_len + len, 1) < 0) {
            err = ENOMEM;
            break;
        }
        Listed *item = &out->items[out->count];
        item->name_off = out->names_len;
        memcpy(out->names + out->names_len, name, len);
        out->names_len += len;
        item->err = fstatat(dir_fd, name, &item->st, AT_SYMLINK_NOFOLLOW) == 0 ? 0 : errno;
        if (item->err != ENOENT)
            out->count++;               /* removed since it was listed: left out */
    }
    rewinddir(dir);                     /* the offset is shared with dir_fd: leave it at the start, as found */
    closedir(dir);
    return err;
}

static PyObject *list_files(PyObject *self, PyObject *args)
{
    (void)self;
    int dir_fd, err;
    if (!PyArg_ParseTuple(args, "i:list_files", &dir_fd))
        return NULL;
    Listing listing = {0};
    Py_BEGIN_ALLOW_THREADS
    err = list_into(dir_fd, &listing);
    Py_END_ALLOW_THREADS
    PyObject *entries = NULL, *failed = NULL, *result = NULL;
    if (err != 0) {
        errno = err;
        PyErr_SetFromErrno(PyExc_OSError);
        goto done;
    }
    entries = PyList_New(0);
    failed = PyList_New(0);
    if (entries == NULL || failed == NULL)
        goto done;
    for (size_t i = 0; i < listing.count; i++) {
        const Listed *item = &listing.items[i];
        const char *name = listing.names + item->name_off;
        PyObject *one = item->err == 0
                            ? Py_BuildValue("(O&N)", PyUnicode_DecodeFSDefault, name, posixread_stat_object(&item->st))
                            : Py_BuildValue("(O&i)", PyUnicode_DecodeFSDefault, name, item->err);
        if (one == NULL || PyList_Append(item->err == 0 ? entries : failed, one) < 0) {
            Py_XDECREF(one);
            goto done;
        }
        Py_DECREF(one);
    }
    result = PyTuple_Pack(2, entries, failed);
done:
    Py_XDECREF(entries);
    Py_XDECREF(failed);
    free(listing.items);
    free(listing.names);
    return result;
}

typedef struct {
    PyObject *name;                     /* bytes (fs-encoded) */
    unsigned long long dev, ino;
    int result;                         /* 0, an errno, NOT_REGULAR or REPLACED */
    ssize_t len;
    struct mq_attr attr;
} Item;

/* One file; fills item->result, item->len (and attr), data[0:nbytes]. Called without the GIL. */
static void read_one(int dir_fd, Item *item, char *data, size_t nbytes, int mq)
{
    int fd = openat(dir_fd, PyBytes_AS_STRING(item->name), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        item->result = errno;
        return;
    }
    struct stat st;
    if (fstat(fd, &st) != 0)
        item->result = errno;
    else if (!S_ISREG(st.st_mode))
        item->result = NOT_REGULAR;
    else if ((unsigned long long)st.st_dev != item->dev || (unsigned long long)st.st_ino != item->ino)
        item->result = REPLACED;
    else if ((item->len = pread(fd, data, nbytes, 0)) < 0)
        item->result = errno;
    else if (mq && syscall(SYS_mq_getsetattr, fd, NULL, &item->attr) != 0)
        item->result = errno;
    close(fd);
}

static PyObject *read_files(PyObject *self, PyObject *args)
{
    (void)self;
    int dir_fd, mq;
    Py_ssize_t nbytes;
    PyObject *items_arg;
    if (!PyArg_ParseTuple(args, "iOnp:read_files", &dir_fd, &items_arg, &nbytes, &mq))
        return NULL;
    if (nbytes < 0 || nbytes > (1 << 20)) {
        PyErr_SetString(PyExc_ValueError, "nbytes must be between 0 and 1 MiB");
        return NULL;
    }
    PyObject *seq = PySequence_Fast(items_arg, "items must be a sequence of (name, st_dev, st_ino)");
    if (seq == NULL)
        return NULL;
    Py_ssize_t count = PySequence_Fast_GET_SIZE(seq), parsed = 0;
    Item *items = PyMem_Calloc((size_t)count + 1, sizeof *items);
    char *data = PyMem_RawMalloc((size_t)(count + 1) * (size_t)(nbytes + 1));
    PyObject *result = NULL;
    if (items == NULL || data == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    for (; parsed < count; parsed++) {
        Item *item = &items[parsed];
        if (!PyArg_ParseTuple(PySequence_Fast_GET_ITEM(seq, parsed), "O&KK:read_files", PyUnicode_FSConverter,
                              &item->name, &item->dev, &item->ino))
            goto done;
    }
    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t i = 0; i < count; i++)
        read_one(dir_fd, &items[i], data + i * (nbytes + 1), (size_t)nbytes, mq);
    Py_END_ALLOW_THREADS
    result = PyList_New(count);
    for (Py_ssize_t i = 0; result != NULL && i < count; i++) {
        const Item *item = &items[i];
        PyObject *one;
        if (item->result != 0)
            one = PyLong_FromLong(item->result);
        else if (mq)
            one = Py_BuildValue("(y#(LLLL))", data + i * (nbytes + 1), item->len, (long long)item->attr.mq_flags,
                                (long long)item->attr.mq_maxmsg, (long long)item->attr.mq_msgsize,
                                (long long)item->attr.mq_curmsgs);
        else
            one = Py_BuildValue("(y#O)", data + i * (nbytes + 1), item->len, Py_None);
        if (one == NULL)
            Py_CLEAR(result);
        else
            PyList_SET_ITEM(result, i, one);
    }
done:
    for (Py_ssize_t i = 0; i < parsed; i++)
        Py_XDECREF(items[i].name);
    PyMem_Free(items);
    PyMem_RawFree(data);
    Py_DECREF(seq);
    return result;
}

static PyMethodDef methods[] = {
    {"list_files", list_files, METH_VARARGS, "The entries of an open directory with their lstat."},
    {"read_files", read_files, METH_VARARGS, "The first bytes (and queue attributes) of files in a directory."},
    {"special_files", posixread_special_files, METH_VARARGS, "FIFO and socket files under directories."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_posixread",
    "The scan's file reads: /dev/shm, /dev/mqueue, FIFO and socket files (the compiled helper).", -1, methods, NULL,
    NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__posixread(void)
{
    lstat_type = PyStructSequence_NewType(&lstat_desc);
    if (lstat_type == NULL)
        return NULL;
    PyObject *mod = PyModule_Create(&module);
    if (mod != NULL && PyModule_AddObjectRef(mod, "Lstat", (PyObject *)lstat_type) < 0)
        Py_CLEAR(mod);
    return mod;
}
