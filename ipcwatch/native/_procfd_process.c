/* read_process of the _procfd extension (see _procfd.c for its contract), kept in its own file of that extension:
 * one call per process instead of a dozen small ones (open, read, fstat, close) from Python. The reading itself is
 * the batch's (_procfd_batch.c), for one process.
 */
#define _GNU_SOURCE
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <errno.h>

typedef struct Store Store;
Store *procfd_store(const unsigned long long *devs, Py_ssize_t n_devs, int maps_mode, int read_anon);
void procfd_store_free(Store *store);
int procfd_read_dir(Store *store, int dir_fd, long long pid);
PyObject *procfd_proc_tuple(const Store *store, size_t i);
int procfd_collect_devs(PyObject *file_devs, unsigned long long **out, Py_ssize_t *count);
PyObject *procfd_read_process(PyObject *self, PyObject *args);

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
    Store *store = procfd_store(devs, n_devs, read_maps ? 1 : 0, 0);  /* 1: PROCMAP_QUERY, no text fallback */
    int err = store == NULL ? ENOMEM : 0;
    if (store != NULL) {
        Py_BEGIN_ALLOW_THREADS
        err = procfd_read_dir(store, dir_fd, -1);
        Py_END_ALLOW_THREADS
    }
    PyObject *result = NULL, *full = NULL;
    if (err != 0) {
        errno = err;
        PyErr_SetFromErrno(PyExc_OSError);
    } else if ((full = procfd_proc_tuple(store, 0)) != NULL) {
        if (PyTuple_GET_SIZE(full) == 2) {  /* (pid, errno): stat could not be read */
            errno = (int)PyLong_AsLong(PyTuple_GET_ITEM(full, 1));
            PyErr_SetFromErrno(PyExc_OSError);
        } else
            result = PyTuple_GetSlice(full, 1, 6);  /* stat, uid, cmdline, fds, maps: without pid and ipc */
        Py_DECREF(full);
    }
    procfd_store_free(store);
    PyMem_Free(devs);
    return result;
}
