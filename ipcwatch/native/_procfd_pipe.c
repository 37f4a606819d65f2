/* pipe_fill_one of the _procfd extension (see _procfd.c for its contract), kept in its own file of that extension.
 */
#define _GNU_SOURCE
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#define PATH_CAP (PATH_MAX + 1)

PyObject *procfd_pipe_fill_one(PyObject *self, PyObject *args);

/* One attempt; 0 with *queued and *capacity set, or -1. Called without the GIL. */
static int fill_one(const char *path, unsigned long long inode, int *queued, int *capacity)
{
    int path_fd = open(path, O_PATH | O_CLOEXEC);
    if (path_fd < 0)
        return -1;
    struct stat st;
    if (fstat(path_fd, &st) != 0 || !S_ISFIFO(st.st_mode) || (unsigned long long)st.st_ino != inode) {
        close(path_fd);
        return -1;
    }
    char self_path[64];
    snprintf(self_path, sizeof self_path, "/proc/self/fd/%d", path_fd);
    int read_fd = open(self_path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    close(path_fd);
    if (read_fd < 0)
        return -1;
    int ok = ioctl(read_fd, FIONREAD, queued) == 0 && (*capacity = fcntl(read_fd, F_GETPIPE_SZ)) >= 0;
    close(read_fd);
    return ok ? 0 : -1;
}

PyObject *procfd_pipe_fill_one(PyObject *self, PyObject *args)
{
    (void)self;
    PyObject *root_bytes;
    long long pid, fd;
    PyObject *inode_obj;
    if (!PyArg_ParseTuple(args, "O&LLO!:pipe_fill_one", PyUnicode_FSConverter, &root_bytes, &pid, &fd,
                          &PyLong_Type, &inode_obj))
        return NULL;
    unsigned long long inode = PyLong_AsUnsignedLongLong(inode_obj);
    if (inode == (unsigned long long)-1 && PyErr_Occurred()) {
        PyErr_Clear();
        Py_DECREF(root_bytes);
        Py_RETURN_NONE;                 /* no pipe has that inode */
    }
    char path[PATH_CAP];
    int len = snprintf(path, sizeof path, "%s/%lld/fd/%lld", PyBytes_AS_STRING(root_bytes), pid, fd);
    Py_DECREF(root_bytes);
    if (len < 0 || len >= (int)sizeof path)
        Py_RETURN_NONE;
    int queued = 0, capacity = 0, rc;
    Py_BEGIN_ALLOW_THREADS
    rc = fill_one(path, inode, &queued, &capacity);
    Py_END_ALLOW_THREADS
    if (rc != 0)
        Py_RETURN_NONE;
    return Py_BuildValue("(ii)", queued, capacity);
}
