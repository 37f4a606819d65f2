/* The text of a cell of `ipcwatch list`'s tables, as ipcwatch.views writes it (the compiled helper `_tables`, which
 * _tables.c describes): escaped strings, numbers, sizes, holders, the ends of pipes and sockets, a socket's queues,
 * a semaphore set's values. */
#include "_tables.h"

#include <string.h>

/* Printable ASCII without a backslash: what ipcwatch.text.escape returns as it is. */
int tables_plain(PyObject *s)
{
    if (!PyUnicode_CheckExact(s) || !PyUnicode_IS_ASCII(s))
        return 0;
    const unsigned char *d = PyUnicode_1BYTE_DATA(s);
    Py_ssize_t n = PyUnicode_GET_LENGTH(s);
    for (Py_ssize_t i = 0; i < n; i++)
        if (d[i] < 0x20 || d[i] >= 0x7f || d[i] == '\\')
            return 0;
    return 1;
}

/* escape(s), a new reference. */
PyObject *tables_escaped(PyObject *s, PyObject *escape)
{
    if (tables_plain(s))
        return Py_NewRef(s);
    return PyObject_CallOneArg(escape, s);
}

/* The decimal digits of `v` (a `-` first when negative) written to end at `end`: where they start. By hand:
 * snprintf costs more than the rest of a cell. */
char *tables_digits(char *end, long long v)
{
    unsigned long long u = v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v;
    do {
        *--end = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (v < 0)
        *--end = '-';
    return end;
}

/* The ASCII from `start` to `end` as a str. */
PyObject *tables_ascii(const char *start, const char *end)
{
    return PyUnicode_FromStringAndSize(start, end - start);
}

/* `before`, `text` and `after` (ASCII) as one str; text may be NULL (nothing). */
PyObject *tables_wrap(const char *before, Py_ssize_t nb, PyObject *text, const char *after, Py_ssize_t na)
{
    Py_ssize_t nt = text == NULL ? 0 : PyUnicode_GET_LENGTH(text);
    Py_UCS4 widest = text == NULL ? 127 : PyUnicode_MAX_CHAR_VALUE(text);
    PyObject *s = PyUnicode_New(nb + nt + na, widest < 127 ? 127 : widest);
    if (s == NULL)
        return NULL;
    int kind = PyUnicode_KIND(s);
    void *data = PyUnicode_DATA(s);
    for (Py_ssize_t i = 0; i < nb; i++)
        PyUnicode_WRITE(kind, data, i, (Py_UCS1)before[i]);
    if (nt && PyUnicode_CopyCharacters(s, nb, text, 0, nt) < 0) {
        Py_DECREF(s);
        return NULL;
    }
    for (Py_ssize_t i = 0; i < na; i++)
        PyUnicode_WRITE(kind, data, nb + nt + i, (Py_UCS1)after[i]);
    return s;
}

/* Three strs as one. */
PyObject *tables_concat3(PyObject *a, PyObject *b, PyObject *c)
{
    Py_ssize_t na = PyUnicode_GET_LENGTH(a), nb = PyUnicode_GET_LENGTH(b), nc = PyUnicode_GET_LENGTH(c);
    Py_UCS4 widest = Py_MAX(PyUnicode_MAX_CHAR_VALUE(a), PyUnicode_MAX_CHAR_VALUE(b));
    widest = Py_MAX(widest, PyUnicode_MAX_CHAR_VALUE(c));
    PyObject *s = PyUnicode_New(na + nb + nc, widest);
    if (s != NULL && (PyUnicode_CopyCharacters(s, 0, a, 0, na) < 0 || PyUnicode_CopyCharacters(s, na, b, 0, nb) < 0
                      || PyUnicode_CopyCharacters(s, na + nb, c, 0, nc) < 0))
        Py_CLEAR(s);
    return s;
}

/* An exact int as a long long: 1, or 0 for anything else (an int past 64 bits, a bool, not an int). */
int tables_as_ll(PyObject *v, long long *out)
{
    if (!PyLong_CheckExact(v))
        return 0;
    int overflow = 0;
    *out = PyLong_AsLongLongAndOverflow(v, &overflow);
    return !overflow;
}

/* ipcwatch.text.human_size of a size 0..2^63: 1023B, 4.0K, 1.5M. Python divides float(n), the double nearest n,
 * by 1024 until it is below 1024 (exact: powers of two), then format(size, ".1f") rounds its exact value to tenths,
 * ties to even: the same here in integers, m * 10 / 2^(10 unit). */
PyObject *tables_human_size(long long n)
{
    char buf[48], *end = buf + sizeof buf;
    if (n < 1024) {
        *--end = 'B';
        return tables_ascii(tables_digits(end, n), buf + sizeof buf);
    }
    static const char UNITS[] = "BKMGTP";
    double size = (double)n;
    int unit = 0;
    while (!(size < 1024) && unit < 5) {  /* n >= 1024: at least K */
        size /= 1024;
        unit++;
    }
    int shift = 10 * unit;
    unsigned __int128 scaled = (unsigned __int128)(unsigned long long)(double)n * 10;
    unsigned long long tenths = (unsigned long long)(scaled >> shift);
    unsigned __int128 rest = scaled - ((unsigned __int128)tenths << shift), half = (unsigned __int128)1 << (shift - 1);
    if (rest > half || (rest == half && (tenths & 1)))
        tenths++;
    *--end = UNITS[unit];
    *--end = (char)('0' + tenths % 10);
    *--end = '.';
    return tables_ascii(tables_digits(end, (long long)(tenths / 10)), buf + sizeof buf);
}

/* views.end_text of the holders whose mode has `want` (0: every holder): `1234 comm (+N)`, the first one's pid and
 * escaped comm and how many other processes; `none` when there are none. NULL without an error: the column's cell
 * says it (not a tuple of holders with an int pid, a str comm and a str mode). */
PyObject *tables_end_text(PyObject *holders, Py_UCS4 want, PyObject *none, PyObject *escape)
{
    if (!PyTuple_CheckExact(holders) || PyTuple_GET_SIZE(holders) > MAX_SAME)
        return NULL;
    long long pids[MAX_SAME];
    Py_ssize_t distinct = 0;
    PyObject *first = NULL;
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(holders); i++) {
        PyObject *h = PyTuple_GET_ITEM(holders, i), *mode;
        long long pid;
        if (!PyTuple_Check(h) || PyTuple_GET_SIZE(h) < 5 || !tables_as_ll(PyTuple_GET_ITEM(h, 0), &pid))
            return NULL;
        if (want) {
            mode = PyTuple_GET_ITEM(h, 4);
            if (!PyUnicode_CheckExact(mode))
                return NULL;
            if (PyUnicode_FindChar(mode, want, 0, PyUnicode_GET_LENGTH(mode), 1) < 0)
                continue;
        }
        if (first == NULL)
            first = h;
        Py_ssize_t j = 0;
        while (j < distinct && pids[j] != pid)
            j++;
        if (j == distinct)
            pids[distinct++] = pid;
    }
    if (first == NULL)
        return Py_NewRef(none);
    PyObject *comm = PyTuple_GET_ITEM(first, 1);
    if (!PyUnicode_CheckExact(comm))
        return NULL;
    PyObject *shown = tables_escaped(comm, escape);
    if (shown == NULL)
        return NULL;
    char pid[32], more[32], *pid_end = pid + sizeof pid, *more_end = more + sizeof more, *more_start = more_end;
    *--pid_end = ' ';
    char *pid_start = tables_digits(pid_end, pids[0]);
    pid_end++;
    if (distinct > 1) {
        *--more_start = ')';
        more_start = tables_digits(more_start, distinct - 1);
        memcpy(more_start -= 3, " (+", 3);
    }
    PyObject *cell = tables_wrap(pid_start, pid_end - pid_start, shown, more_start, more_end - more_start);
    Py_DECREF(shown);
    return cell;
}

/* `left ARROW right`, each end_text or `nobody`: views.pipe_ends (writers, readers) and socket_ends. */
PyObject *tables_ends(PyObject *left, Py_UCS4 left_mode, PyObject *right, Py_UCS4 right_mode, PyObject *arrow,
                      PyObject *escape)
{
    PyObject *a = tables_end_text(left, left_mode, c_nobody, escape);
    PyObject *b = a == NULL ? NULL : tables_end_text(right, right_mode, c_nobody, escape);
    PyObject *cell = b == NULL ? NULL : tables_concat3(a, arrow, b);
    Py_XDECREF(a);
    Py_XDECREF(b);
    return cell;
}

/* views.object_name of a pipe (its ends), a connected socket (its ends and its peer's) or a named object; NULL
 * without an error for the rest (the column's cell: a SysV id and key, a ref). `types`: (PipeInfo, UnixInfo). */
PyObject *tables_name_cell(Column *c, PyObject *obj, PyObject *info, PyObject *types, PyObject *escape)
{
    if (PyTuple_GET_SIZE(types) != 2)
        return NULL;
    int is = PyObject_IsInstance(info, PyTuple_GET_ITEM(types, 0));
    PyObject *holders, *cell = NULL;
    if (is != 0) {                      /* a pipe, or an error */
        if (is < 0 || (holders = tables_attr(c, obj, s_holders)) == NULL)
            return NULL;
        cell = tables_ends(holders, 'w', holders, 'r', c_pipe, escape);
        Py_DECREF(holders);
        return cell;
    }
    if ((is = PyObject_IsInstance(info, PyTuple_GET_ITEM(types, 1))) < 0)
        return NULL;
    PyObject *peer = is ? tables_attr(c, info, s_peer) : Py_NewRef(Py_None);
    if (peer == NULL)
        return NULL;
    if (peer != Py_None) {              /* a connected socket */
        PyObject *theirs = tables_attr(c, info, s_peer_holders);
        holders = theirs == NULL ? NULL : tables_attr(c, obj, s_holders);
        if (holders != NULL)
            cell = tables_ends(holders, 0, theirs, 0, c_socket, escape);
        Py_XDECREF(holders);
        Py_XDECREF(theirs);
    } else {
        PyObject *name = tables_attr(c, obj, s_name);
        if (name != NULL && PyUnicode_CheckExact(name) && PyUnicode_GET_LENGTH(name))
            cell = tables_escaped(name, escape);
        Py_XDECREF(name);
    }
    Py_DECREF(peer);
    return cell;
}

/* human_size of the info's `field` (a socket's queue), unless the socket listens (its backlog set): NULL (the
 * column's cell) then, or for a value human_size does not take here. */
PyObject *tables_queue_cell(Column *c, PyObject *info, PyObject *field)
{
    if (info == Py_None)
        return NULL;
    PyObject *backlog = tables_attr(c, info, s_backlog), *v = NULL, *cell = NULL;
    long long n;
    if (backlog == Py_None && (v = tables_attr(c, info, field)) != NULL) {
        if (v == Py_None)
            cell = Py_NewRef(c_unknown);
        else if (tables_as_ll(v, &n) && n >= 0)
            cell = tables_human_size(n);
    }
    Py_XDECREF(backlog);
    Py_XDECREF(v);
    PyErr_Clear();                      /* a record without those values: the column's cell says what */
    return cell;
}

/* views.sem_values: `0,1,?` for the first SEMS_SHOWN values of a set, `,…` after them when there are more. */
PyObject *tables_sem_values(Column *c, PyObject *sems)
{
    if (sems == Py_None)
        return Py_NewRef(c_unknown);
    if (!PyTuple_CheckExact(sems))
        return NULL;
    char buf[SEMS_SHOWN * 22];
    int len = 0;
    Py_ssize_t n = PyTuple_GET_SIZE(sems);
    for (Py_ssize_t i = 0; i < n && i < SEMS_SHOWN; i++) {
        PyObject *v = tables_attr(c, PyTuple_GET_ITEM(sems, i), s_value);
        long long value;
        int ok = v == Py_None || (v != NULL && tables_as_ll(v, &value));
        if (ok) {
            char number[24], *end = number + sizeof number, *start = v == Py_None ? end - 1 : tables_digits(end, value);
            if (v == Py_None)
                *start = '?';
            if (i)
                buf[len++] = ',';
            memcpy(buf + len, start, (size_t)(end - start));
            len += (int)(end - start);
        }
        Py_XDECREF(v);
        if (!ok) {
            PyErr_Clear();
            return NULL;
        }
    }
    PyObject *shown = PyUnicode_FromStringAndSize(buf, len);
    if (shown == NULL || n <= SEMS_SHOWN)
        return shown;
    PyObject *cell = PyUnicode_Concat(shown, c_more);
    Py_DECREF(shown);
    return cell;
}

