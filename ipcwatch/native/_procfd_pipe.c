/* pipe_fills of the _procfd extension (see _procfd.c for its contract), kept in its own file of that extension.
 */
#define _GNU_SOURCE
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include "_procfd.h"
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#define PATH_CAP (PATH_MAX + 1)


typedef struct {
    long long pid, fd;
} End;

typedef struct {
    unsigned long long inode;
    int valid;                          /* 0: no pipe has that inode (it does not fit 64 bits) */
    Py_ssize_t first, count;            /* its read ends in the ends array */
    int queued, capacity, found;
} Request;

/* Through one read end; 0 with *queued and *capacity set, or -1. fd_dir is PROC_ROOT/PID/fd (O_PATH), self_dir
 * /proc/self/fd (O_PATH). Called without the GIL. */
static int fill_one(int fd_dir, int self_dir, long long fd, unsigned long long inode, int *queued, int *capacity)
{
    char name[32];
    snprintf(name, sizeof name, "%lld", fd);
    int path_fd = openat(fd_dir, name, O_PATH | O_CLOEXEC);
    if (path_fd < 0)
        return -1;
    struct stat st;
    if (fstat(path_fd, &st) != 0 || !S_ISFIFO(st.st_mode) || (unsigned long long)st.st_ino != inode) {
        close(path_fd);
        return -1;                      /* checked before any real open: a recycled fd number never opens a device */
    }
    snprintf(name, sizeof name, "%d", path_fd);
    int read_fd = openat(self_dir, name, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    close(path_fd);
    if (read_fd < 0)
        return -1;
    int ok = ioctl(read_fd, FIONREAD, queued) == 0 && (*capacity = fcntl(read_fd, F_GETPIPE_SZ)) >= 0;
    close(read_fd);
    return ok ? 0 : -1;
}

static const End *sort_ends;            /* the ends array, while order is sorted (under the GIL) */
static const Request *sort_requests;

/* By the pid of the first read end: one process's requests come together, its fd directory opened once. */
static int by_first_pid(const void *a, const void *b)
{
    const Request *ra = &sort_requests[*(const Py_ssize_t *)a], *rb = &sort_requests[*(const Py_ssize_t *)b];
    long long pa = ra->count ? sort_ends[ra->first].pid : -1, pb = rb->count ? sort_ends[rb->first].pid : -1;
    return (pa > pb) - (pa < pb);
}

/* Every request, through its read ends in turn until one answers, in `order`. Called without the GIL. */
static void fill_all(const char *root, Request *requests, const Py_ssize_t *order, Py_ssize_t count, const End *ends)
{
    int self_dir = open("/proc/self/fd", O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (self_dir < 0)
        return;
    long long open_pid = -1;
    int fd_dir = -1;
    for (Py_ssize_t i = 0; i < count; i++) {
        Request *r = &requests[order[i]];
        for (Py_ssize_t e = r->first; r->valid && !r->found && e < r->first + r->count; e++) {
            if (ends[e].pid != open_pid) {  /* a process's ends usually come together: its fd dir is opened once */
                if (fd_dir >= 0)
                    close(fd_dir);
                char path[PATH_CAP];
                int len = snprintf(path, sizeof path, "%s/%lld/fd", root, ends[e].pid);
                fd_dir = len > 0 && len < (int)sizeof path ? open(path, O_PATH | O_DIRECTORY | O_CLOEXEC) : -1;
                open_pid = ends[e].pid;
            }
            if (fd_dir >= 0 && ends[e].fd >= 0 && ends[e].fd <= INT_MAX)
                r->found = fill_one(fd_dir, self_dir, ends[e].fd, r->inode, &r->queued, &r->capacity) == 0;
        }
    }
    if (fd_dir >= 0)
        close(fd_dir);
    close(self_dir);
}

PyObject *procfd_pipe_fills(PyObject *self, PyObject *args)
{
    (void)self;
    PyObject *root_bytes, *requests_arg;
    if (!PyArg_ParseTuple(args, "O&O:pipe_fills", PyUnicode_FSConverter, &root_bytes, &requests_arg))
        return NULL;
    PyObject *result = NULL, *seq = PySequence_Fast(requests_arg, "requests must be a sequence of (inode, ends)");
    Request *requests = NULL;
    End *ends = NULL;
    Py_ssize_t *order = NULL, count = 0, n_ends = 0, cap_ends = 0;
    if (seq == NULL)
        goto done;
    count = PySequence_Fast_GET_SIZE(seq);
    requests = PyMem_Calloc((size_t)count + 1, sizeof *requests);
    if (requests == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    for (Py_ssize_t i = 0; i < count; i++) {
        PyObject *inode_obj, *ends_arg;
        if (!PyArg_ParseTuple(PySequence_Fast_GET_ITEM(seq, i), "O!O:pipe_fills", &PyLong_Type, &inode_obj, &ends_arg))
            goto done;
        requests[i].inode = PyLong_AsUnsignedLongLong(inode_obj);
        requests[i].valid = !(requests[i].inode == (unsigned long long)-1 && PyErr_Occurred());
        PyErr_Clear();
        PyObject *ends_seq = PySequence_Fast(ends_arg, "ends must be a sequence of (pid, fd)");
        if (ends_seq == NULL)
            goto done;
        Py_ssize_t k = PySequence_Fast_GET_SIZE(ends_seq);
        if (n_ends + k > cap_ends) {
            cap_ends = (n_ends + k) * 2 + 16;
            End *grown = PyMem_Realloc(ends, (size_t)cap_ends * sizeof *ends);
            if (grown == NULL) {
                Py_DECREF(ends_seq);
                PyErr_NoMemory();
                goto done;
            }
            ends = grown;
        }
        requests[i].first = n_ends;
        requests[i].count = k;
        for (Py_ssize_t j = 0; j < k; j++, n_ends++)
            if (!PyArg_ParseTuple(PySequence_Fast_GET_ITEM(ends_seq, j), "LL:pipe_fills", &ends[n_ends].pid,
                                  &ends[n_ends].fd)) {
                Py_DECREF(ends_seq);
                goto done;
            }
        Py_DECREF(ends_seq);
    }
    order = PyMem_Malloc(((size_t)count + 1) * sizeof *order);
    if (order == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    for (Py_ssize_t i = 0; i < count; i++)
        order[i] = i;
    sort_ends = ends;                   /* static: qsort has no context argument; the GIL is held */
    sort_requests = requests;
    qsort(order, (size_t)count, sizeof *order, by_first_pid);
    Py_BEGIN_ALLOW_THREADS
    fill_all(PyBytes_AS_STRING(root_bytes), requests, order, count, ends);
    Py_END_ALLOW_THREADS
    result = PyList_New(count);
    for (Py_ssize_t i = 0; result != NULL && i < count; i++) {
        PyObject *fill = requests[i].found ? Py_BuildValue("(ii)", requests[i].queued, requests[i].capacity)
                                           : Py_NewRef(Py_None);
        if (fill == NULL)
            Py_CLEAR(result);
        else
            PyList_SET_ITEM(result, i, fill);
    }
done:
    Py_DECREF(root_bytes);
    Py_XDECREF(seq);
    PyMem_Free(requests);
    PyMem_Free(ends);
    PyMem_Free(order);
    return result;
}
