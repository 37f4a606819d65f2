/* read_process of the _procfd extension (see _procfd.c for its contract), kept in its own file of that extension:
 * one call per process of the /proc pass instead of a dozen small ones (open, read, fstat, close) from Python.
 */
#define _GNU_SOURCE
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#define STAT_CAP 8192
#define CMDLINE_CAP (64 * 1024)

PyObject *procfd_read_process(PyObject *self, PyObject *args);
int procfd_collect_devs(PyObject *file_devs, unsigned long long **out, Py_ssize_t *count);
PyObject *procfd_walk(int dir_fd, const unsigned long long *devs, Py_ssize_t n_devs);
PyObject *procfd_maps_of(int maps_fd);

/* One read() of a file under dir_fd (the kernel produces stat and cmdline in one call); its length or -errno. */
static ssize_t read_once(int dir_fd, const char *name, char *buf, size_t cap)
{
    int fd = openat(dir_fd, name, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    ssize_t n = read(fd, buf, cap);
    int err = errno;
    close(fd);
    return n < 0 ? -err : n;
}

/* Open name under dir_fd; the fd, or -errno. */
static int open_at(int dir_fd, const char *name, int flags)
{
    int fd = openat(dir_fd, name, flags | O_CLOEXEC);
    return fd < 0 ? -errno : fd;
}

/* The result of walk(fd), or the errno int of an OSError it raised (a bad fd is the errno it carries). */
static PyObject *list_or_errno(int fd, PyObject *(*walk)(int, const unsigned long long *, Py_ssize_t),
                               PyObject *(*maps)(int), const unsigned long long *devs, Py_ssize_t n_devs)
{
    if (fd < 0)
        return PyLong_FromLong(-fd);
    PyObject *result = walk != NULL ? walk(fd, devs, n_devs) : maps(fd);
    close(fd);
    if (result != NULL || !PyErr_ExceptionMatches(PyExc_OSError))
        return result;
    PyObject *type, *value, *tb;
    PyErr_Fetch(&type, &value, &tb);
    PyErr_NormalizeException(&type, &value, &tb);
    PyObject *code = value != NULL ? PyObject_GetAttrString(value, "errno") : NULL;
    Py_XDECREF(type);
    Py_XDECREF(value);
    Py_XDECREF(tb);
    if (code == NULL || !PyLong_Check(code)) {
        PyErr_Clear();
        Py_XDECREF(code);
        return PyLong_FromLong(EIO);
    }
    return code;
}

PyObject *procfd_read_process(PyObject *self, PyObject *args)
{
    (void)self;
    int dir_fd, read_maps;
    PyObject *file_devs;
    if (!PyArg_ParseTuple(args, "iOp:read_process", &dir_fd, &file_devs, &read_maps))
        return NULL;
    unsigned long long *devs = NULL;
    Py_ssize_t n_devs = 0;
    if (procfd_collect_devs(file_devs, &devs, &n_devs) < 0)
        return NULL;
    char *stat_buf = PyMem_RawMalloc(STAT_CAP), *cmdline = PyMem_RawMalloc(CMDLINE_CAP);
    if (stat_buf == NULL || cmdline == NULL) {
        PyMem_RawFree(stat_buf);
        PyMem_RawFree(cmdline);
        PyMem_Free(devs);
        return PyErr_NoMemory();
    }
    ssize_t stat_len, cmdline_len = 0;
    int fd_dir = -1, maps_fd = -1, stat_err = 0;
    struct stat st = {0};
    Py_BEGIN_ALLOW_THREADS
    stat_len = read_once(dir_fd, "stat", stat_buf, STAT_CAP);
    if (stat_len >= 0 && fstat(dir_fd, &st) != 0)
        stat_len = -errno;
    if (stat_len >= 0) {
        cmdline_len = read_once(dir_fd, "cmdline", cmdline, CMDLINE_CAP);
        if (cmdline_len < 0)
            cmdline_len = 0;
        fd_dir = open_at(dir_fd, "fd", O_RDONLY | O_DIRECTORY);
        maps_fd = read_maps ? open_at(dir_fd, "maps", O_RDONLY) : -1;
    } else {
        stat_err = (int)-stat_len;
    }
    Py_END_ALLOW_THREADS
    PyObject *result = NULL;
    if (stat_err != 0) {
        errno = stat_err;
        PyErr_SetFromErrno(PyExc_OSError);
        goto done;
    }
    PyObject *fds = list_or_errno(fd_dir, procfd_walk, NULL, devs, n_devs);
    PyObject *maps = NULL;
    if (read_maps)
        maps = fds != NULL ? list_or_errno(maps_fd, NULL, procfd_maps_of, NULL, 0) : NULL;
    else
        maps = Py_NewRef(Py_None);
    if (fds == NULL && maps_fd >= 0)
        close(maps_fd);                 /* not handed to list_or_errno, which closes what it walks */
    if (fds == NULL || maps == NULL) {
        Py_XDECREF(fds);
        Py_XDECREF(maps);
        goto done;
    }
    result = Py_BuildValue("(y#Ky#NN)", stat_buf, (Py_ssize_t)stat_len, (unsigned long long)st.st_uid, cmdline,
                           (Py_ssize_t)cmdline_len, fds, maps);
done:
    PyMem_RawFree(stat_buf);
    PyMem_RawFree(cmdline);
    PyMem_Free(devs);
    return result;
}
