/* The scan's SysV reads in one call each, with the GIL released around the system calls (the compiled helper;
 * ipcwatch/native/sysvread.py holds the pure-Python twin and picks one).
 *
 * table_rows(data, names, octal) -> list[dict[str, int]]
 *     The rows of a /proc/sysvipc table (`data` is the whole text; its first line, the header, is skipped): one dict
 *     per line of exactly len(names) whitespace-separated integers, keyed by `names`; the cell at index `octal` is
 *     read in base 8. A line whose cell count differs or whose cell is not an integer (as int() reads it) is dropped.
 * sem_values(sets) -> list[tuple[tuple[int, int, int, int, int], ...] | None]
 *     For each (semid, nsems) of `sets`: per semaphore (num, GETVAL, GETNCNT, GETZCNT, GETPID), one semctl per value
 *     (GETALL would need a buffer as long as the set the id names NOW, and an id reused since the table was read may
 *     name a longer one); None for the set when any semctl fails (not permitted, removed).
 * msg_qbytes(ids) -> list[int | None]
 *     Each queue's byte limit (msgctl IPC_STAT; when that is not permitted, MSG_STAT_ANY at the table index the id
 *     maps to, accepted only when it returns that id); None when neither answers.
 */
#define _GNU_SOURCE
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <errno.h>
#include <limits.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/msg.h>
#include <sys/sem.h>

#ifndef MSG_STAT_ANY
#define MSG_STAT_ANY 13
#endif
#define FAST_DIGITS 18                  /* any 18-digit number fits a long long */
#define CELL_CAP 64                     /* longer cells go through PyLong_FromString from a heap copy */

static int is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

/* int(cell, base) for one cell [start, end): a new int, or NULL with no exception set when it is not one. */
static PyObject *cell_int(const char *start, const char *end, int base)
{
    const char *p = start;
    int negative = 0;
    if (p < end && (*p == '+' || *p == '-'))
        negative = *p++ == '-';
    Py_ssize_t digits = end - p;
    if (digits > 0 && digits <= FAST_DIGITS) {
        long long value = 0;
        const char *q = p;
        for (; q < end && *q >= '0' && *q < '0' + base; q++)
            value = value * base + (*q - '0');
        if (q == end)
            return PyLong_FromLongLong(negative ? -value : value);
    }
    /* anything else (long numbers, underscores): exactly what int() accepts */
    Py_ssize_t len = end - start;
    char small[CELL_CAP], *copy = len < CELL_CAP ? small : PyMem_Malloc((size_t)len + 1);
    if (copy == NULL)
        return PyErr_NoMemory();
    memcpy(copy, start, (size_t)len);
    copy[len] = '\0';
    char *stop = NULL;
    PyObject *value = PyLong_FromString(copy, &stop, base);
    int complete = stop == copy + len;
    if (copy != small)
        PyMem_Free(copy);
    if (value == NULL) {
        if (!PyErr_ExceptionMatches(PyExc_ValueError))
            return NULL;
        PyErr_Clear();
        return NULL;
    }
    if (!complete) {
        Py_DECREF(value);
        return NULL;
    }
    return value;
}

/* One row as a dict, Py_None when the line does not fit (NULL on an error). */
static PyObject *row_of(const char *line, const char *end, PyObject *names, Py_ssize_t width, Py_ssize_t octal)
{
    PyObject *row = PyDict_New();
    if (row == NULL)
        return NULL;
    Py_ssize_t col = 0;
    const char *p = line;
    while (1) {
        while (p < end && is_space(*p))
            p++;
        if (p == end)
            break;
        const char *cell = p;
        while (p < end && !is_space(*p))
            p++;
        if (col >= width)
            goto drop;
        PyObject *value = cell_int(cell, p, col == octal ? 8 : 10);
        if (value == NULL) {
            if (PyErr_Occurred())
                goto fail;
            goto drop;
        }
        int rc = PyDict_SetItem(row, PyTuple_GET_ITEM(names, col), value);
        Py_DECREF(value);
        if (rc < 0)
            goto fail;
        col++;
    }
    if (col == width)
        return row;
drop:
    Py_DECREF(row);
    Py_RETURN_NONE;
fail:
    Py_DECREF(row);
    return NULL;
}

static PyObject *table_rows(PyObject *self, PyObject *args)
{
    (void)self;
    const char *data;
    Py_ssize_t len, octal;
    PyObject *names;
    if (!PyArg_ParseTuple(args, "y#O!n:table_rows", &data, &len, &PyTuple_Type, &names, &octal))
        return NULL;
    Py_ssize_t width = PyTuple_GET_SIZE(names);
    PyObject *rows = PyList_New(0);
    if (rows == NULL)
        return NULL;
    const char *end = data + len, *line = memchr(data, '\n', (size_t)len);
    while (line != NULL && line < end) {
        line++;                         /* past the newline that ends the previous line */
        const char *stop = memchr(line, '\n', (size_t)(end - line));
        if (stop == NULL)
            stop = end;
        PyObject *row = row_of(line, stop, names, width, octal);
        if (row == NULL || (row != Py_None && PyList_Append(rows, row) < 0)) {
            Py_XDECREF(row);
            Py_DECREF(rows);
            return NULL;
        }
        Py_DECREF(row);
        line = stop;
    }
    return rows;
}

typedef struct {
    int semid;
    int nsems;
    int failed;
    size_t first;                       /* index of its first value in the values array (4 per semaphore) */
} SemSet;

static PyObject *sem_values(PyObject *self, PyObject *args)
{
    (void)self;
    PyObject *sets_arg;
    if (!PyArg_ParseTuple(args, "O:sem_values", &sets_arg))
        return NULL;
    PyObject *seq = PySequence_Fast(sets_arg, "sets must be a sequence of (semid, nsems)");
    if (seq == NULL)
        return NULL;
    Py_ssize_t count = PySequence_Fast_GET_SIZE(seq);
    SemSet *sets = PyMem_Calloc((size_t)count + 1, sizeof *sets);
    if (sets == NULL) {
        Py_DECREF(seq);
        return PyErr_NoMemory();
    }
    size_t total = 0;
    for (Py_ssize_t i = 0; i < count; i++) {
        if (!PyArg_ParseTuple(PySequence_Fast_GET_ITEM(seq, i), "ii:sem_values", &sets[i].semid, &sets[i].nsems)) {
            PyMem_Free(sets);
            Py_DECREF(seq);
            return NULL;
        }
        if (sets[i].nsems < 0)
            sets[i].nsems = 0;          /* range(negative) is empty */
        sets[i].first = total;
        total += (size_t)sets[i].nsems * 4;
    }
    Py_DECREF(seq);
    int *values = PyMem_RawMalloc((total + 1) * sizeof *values);
    if (values == NULL) {
        PyMem_Free(sets);
        return PyErr_NoMemory();
    }
    static const int commands[4] = {GETVAL, GETNCNT, GETZCNT, GETPID};
    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t i = 0; i < count; i++) {
        int *out = values + sets[i].first;
        for (int num = 0; num < sets[i].nsems && !sets[i].failed; num++)
            for (int c = 0; c < 4; c++) {
                int v = semctl(sets[i].semid, num, commands[c]);
                if (v == -1) {
                    sets[i].failed = 1;
                    break;
                }
                out[num * 4 + c] = v;
            }
    }
    Py_END_ALLOW_THREADS
    PyObject *result = PyList_New(count);
    for (Py_ssize_t i = 0; result != NULL && i < count; i++) {
        PyObject *set;
        if (sets[i].failed) {
            set = Py_NewRef(Py_None);
        } else {
            set = PyTuple_New(sets[i].nsems);
            const int *v = values + sets[i].first;
            for (int num = 0; set != NULL && num < sets[i].nsems; num++, v += 4) {
                PyObject *one = Py_BuildValue("(iiiii)", num, v[0], v[1], v[2], v[3]);
                if (one == NULL)
                    Py_CLEAR(set);
                else
                    PyTuple_SET_ITEM(set, num, one);
            }
        }
        if (set == NULL)
            Py_CLEAR(result);
        else
            PyList_SET_ITEM(result, i, set);
    }
    PyMem_RawFree(values);
    PyMem_Free(sets);
    return result;
}

/* One queue's byte limit, or -1. Called without the GIL. */
static long long qbytes_of(int msqid)
{
    struct msqid_ds ds;
    if (msgctl(msqid, IPC_STAT, &ds) == 0)
        return (long long)ds.msg_qbytes;
    if (errno != EACCES && errno != EPERM)
        return -1;
    const int indexes[2] = {msqid & 0x7FFF, msqid & 0xFFFFFF};
    for (int i = 0; i < 2; i++)
        if (msgctl(indexes[i], MSG_STAT_ANY, &ds) == msqid)
            return (long long)ds.msg_qbytes;
    return -1;
}

static PyObject *msg_qbytes(PyObject *self, PyObject *args)
{
    (void)self;
    PyObject *ids_arg;
    if (!PyArg_ParseTuple(args, "O:msg_qbytes", &ids_arg))
        return NULL;
    PyObject *seq = PySequence_Fast(ids_arg, "ids must be a sequence of ints");
    if (seq == NULL)
        return NULL;
    Py_ssize_t count = PySequence_Fast_GET_SIZE(seq);
    int *ids = PyMem_Malloc(((size_t)count + 1) * sizeof *ids);
    long long *limits = PyMem_Malloc(((size_t)count + 1) * sizeof *limits);
    PyObject *result = NULL;
    if (ids == NULL || limits == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    for (Py_ssize_t i = 0; i < count; i++) {
        long id = PyLong_AsLong(PySequence_Fast_GET_ITEM(seq, i));
        if (id == -1 && PyErr_Occurred())
            goto done;
        if (id < INT_MIN || id > INT_MAX) {
            PyErr_SetString(PyExc_OverflowError, "a queue id is a C int");
            goto done;
        }
        ids[i] = (int)id;
    }
    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t i = 0; i < count; i++)
        limits[i] = qbytes_of(ids[i]);
    Py_END_ALLOW_THREADS
    result = PyList_New(count);
    for (Py_ssize_t i = 0; result != NULL && i < count; i++) {
        PyObject *limit = limits[i] < 0 ? Py_NewRef(Py_None) : PyLong_FromLongLong(limits[i]);
        if (limit == NULL)
            Py_CLEAR(result);
        else
            PyList_SET_ITEM(result, i, limit);
    }
done:
    PyMem_Free(ids);
    PyMem_Free(limits);
    Py_DECREF(seq);
    return result;
}

static PyMethodDef methods[] = {
    {"table_rows", table_rows, METH_VARARGS, "The rows of a /proc/sysvipc table as dicts."},
    {"sem_values", sem_values, METH_VARARGS, "Each semaphore's value, ncnt, zcnt and last pid, per set."},
    {"msg_qbytes", msg_qbytes, METH_VARARGS, "Each queue's byte limit."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_sysvread", "The scan's SysV reads (the compiled helper).", -1, methods,
    NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__sysvread(void)
{
    return PyModule_Create(&module);
}
