/* The cells and rows of `ipcwatch list`'s tables: the compiled helper of ipcwatch/native/tables.py, which says what
 * a column's plan is; its twin is ipcwatch.tables.render_table over each column's `cell`.
 *
 * cells(columns, objects, escape) -> [[title, cell, ...], ...]: each column's title and its cell of each object.
 *     `columns` is ((title, op, field, in_info, cell), ...): op an OP_* below (tables.OPS), field the attribute it
 *     reads (of the object, or of its `info` when in_info; for OP_NAME the info classes whose name is not the
 *     object's), cell the column's own cell(obj), called for every value the op does not know (a bool, a str
 *     subclass, an int past 64 bits, a negative size, a holder that is not a pid and a comm...).
 * widths(texts, cell_len) -> [int, ...]: each column's widest text in terminal cells (ASCII: its length).
 * rows(texts, widths, numeric, cell_len, indent) -> str: the rows (title first), each `indent` spaces and the shown
 *     columns (width not None) padded to their width (numbers to the right, titles to the left), two spaces apart,
 *     trailing whitespace dropped (str.rstrip), joined by newlines. Every text must fit its width (the caller
 *     elides those that do not); written straight into the str, as its characters are (a lone surrogate too).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <string.h>
#include <structmember.h>

enum { OP_CALL, OP_NUMBER, OP_SIZE, OP_TEXT, OP_PERMS, OP_KEY, OP_HOLDERS, OP_PIPE_ENDS, OP_MARK, OP_STALE, OP_NAME,
       OP_QUEUE, OP_SEM_VALUES, OP_COUNT };
#define SEMS_SHOWN 8                    /* views.sem_values: the first 8 values, then `,…` */
#define MAX_COLUMNS 64
#define MAX_SAME 64                     /* holders compared pairwise for distinct pids; more: the column's cell */

/* Where a class keeps an attribute: how (PLACE_*) and its slot's offset or its tuple index. */
enum { PLACE_GETATTR, PLACE_SLOT, PLACE_ITEM };
typedef struct { PyTypeObject *type; PyObject *name; Py_ssize_t where; int how; } Place;
#define PLACES 6                        /* the (class, attribute) pairs a column reads, found once per call */
typedef struct { PyObject *cell, *field; int op, in_info, nplaces; Place places[PLACES]; } Column;

/* Where `type` keeps `name`: a slot (a member descriptor) or a NamedTuple's item (its _tuplegetter) is read
 * straight, as the descriptor reads it; anything else (or a class with its own __getattribute__) by getattr. */
static void find_place(Place *p, PyTypeObject *type, PyObject *name)
{
    p->type = type;
    p->name = name;
    p->how = PLACE_GETATTR;
    if (type->tp_getattro != PyObject_GenericGetAttr)
        return;
    PyObject *d = PyObject_GetAttr((PyObject *)type, name), *fields = NULL;
    if (d == NULL) {
        PyErr_Clear();
        return;
    }
    if (Py_IS_TYPE(d, &PyMemberDescr_Type) && ((PyMemberDescrObject *)d)->d_member->type == T_OBJECT_EX
        && PyType_IsSubtype(type, PyDescr_TYPE(d))) {
        p->how = PLACE_SLOT;
        p->where = ((PyMemberDescrObject *)d)->d_member->offset;
    } else if (strcmp(Py_TYPE(d)->tp_name, "_collections._tuplegetter") == 0 && PyType_IsSubtype(type, &PyTuple_Type)
               && (fields = PyObject_GetAttrString((PyObject *)type, "_fields")) != NULL && PyTuple_Check(fields)) {
        for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(fields); i++)
            if (PyTuple_GET_ITEM(fields, i) == name
                || PyUnicode_Compare(PyTuple_GET_ITEM(fields, i), name) == 0) {  /* both str: no error */
                p->how = PLACE_ITEM;
                p->where = i;
                break;
            }
    }
    Py_XDECREF(fields);
    Py_DECREF(d);
    PyErr_Clear();
}

/* obj.name, a new reference, read where the column found the object's class keeps it. */
static PyObject *attr(Column *c, PyObject *obj, PyObject *name)
{
    PyTypeObject *type = Py_TYPE(obj);
    Place *p = NULL;
    for (int i = 0; i < c->nplaces; i++)
        if (c->places[i].type == type && c->places[i].name == name) {
            p = &c->places[i];
            break;
        }
    if (p == NULL) {
        p = &c->places[c->nplaces < PLACES ? c->nplaces++ : PLACES - 1];
        find_place(p, type, name);
    }
    if (p->how == PLACE_SLOT) {
        PyObject *v = *(PyObject **)((char *)obj + p->where);
        if (v != NULL)
            return Py_NewRef(v);
    } else if (p->how == PLACE_ITEM && p->where < PyTuple_GET_SIZE(obj)) {
        return Py_NewRef(PyTuple_GET_ITEM(obj, p->where));
    }
    return PyObject_GetAttr(obj, name);  /* a slot never set raises AttributeError as it would */
}

/* Interned attribute names and the constant cells. */
static PyObject *s_info, *s_holders, *s_waiters, *s_stale, *s_stale_reason, *s_name, *s_key, *s_mode, *s_peer,
    *s_peer_holders, *s_backlog, *s_value;
static PyObject *c_empty, *c_unknown, *c_dash, *c_stale, *c_wait, *c_nobody, *c_pipe, *c_socket, *c_more;

/* Printable ASCII without a backslash: what ipcwatch.text.escape returns as it is. */
static int plain(PyObject *s)
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
static PyObject *escaped(PyObject *s, PyObject *escape)
{
    if (plain(s))
        return Py_NewRef(s);
    return PyObject_CallOneArg(escape, s);
}

/* The decimal digits of `v` (a `-` first when negative) written to end at `end`: where they start. By hand:
 * snprintf costs more than the rest of a cell. */
static char *digits(char *end, long long v)
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
static PyObject *ascii(const char *start, const char *end)
{
    return PyUnicode_FromStringAndSize(start, end - start);
}

/* `before`, `text` and `after` (ASCII) as one str; text may be NULL (nothing). */
static PyObject *wrap(const char *before, Py_ssize_t nb, PyObject *text, const char *after, Py_ssize_t na)
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
static PyObject *concat3(PyObject *a, PyObject *b, PyObject *c)
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
static int as_ll(PyObject *v, long long *out)
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
static PyObject *human_size(long long n)
{
    char buf[48], *end = buf + sizeof buf;
    if (n < 1024) {
        *--end = 'B';
        return ascii(digits(end, n), buf + sizeof buf);
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
    return ascii(digits(end, (long long)(tenths / 10)), buf + sizeof buf);
}

/* views.end_text of the holders whose mode has `want` (0: every holder): `1234 comm (+N)`, the first one's pid and
 * escaped comm and how many other processes; `none` when there are none. NULL without an error: the column's cell
 * says it (not a tuple of holders with an int pid, a str comm and a str mode). */
static PyObject *end_text(PyObject *holders, Py_UCS4 want, PyObject *none, PyObject *escape)
{
    if (!PyTuple_CheckExact(holders) || PyTuple_GET_SIZE(holders) > MAX_SAME)
        return NULL;
    long long pids[MAX_SAME];
    Py_ssize_t distinct = 0;
    PyObject *first = NULL;
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(holders); i++) {
        PyObject *h = PyTuple_GET_ITEM(holders, i), *mode;
        long long pid;
        if (!PyTuple_Check(h) || PyTuple_GET_SIZE(h) < 5 || !as_ll(PyTuple_GET_ITEM(h, 0), &pid))
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
    PyObject *shown = escaped(comm, escape);
    if (shown == NULL)
        return NULL;
    char pid[32], more[32], *pid_end = pid + sizeof pid, *more_end = more + sizeof more, *more_start = more_end;
    *--pid_end = ' ';
    char *pid_start = digits(pid_end, pids[0]);
    pid_end++;
    if (distinct > 1) {
        *--more_start = ')';
        more_start = digits(more_start, distinct - 1);
        memcpy(more_start -= 3, " (+", 3);
    }
    PyObject *cell = wrap(pid_start, pid_end - pid_start, shown, more_start, more_end - more_start);
    Py_DECREF(shown);
    return cell;
}

/* `left ARROW right`, each end_text or `nobody`: views.pipe_ends (writers, readers) and socket_ends. */
static PyObject *ends(PyObject *left, Py_UCS4 left_mode, PyObject *right, Py_UCS4 right_mode, PyObject *arrow,
                      PyObject *escape)
{
    PyObject *a = end_text(left, left_mode, c_nobody, escape);
    PyObject *b = a == NULL ? NULL : end_text(right, right_mode, c_nobody, escape);
    PyObject *cell = b == NULL ? NULL : concat3(a, arrow, b);
    Py_XDECREF(a);
    Py_XDECREF(b);
    return cell;
}

/* views.object_name of a pipe (its ends), a connected socket (its ends and its peer's) or a named object; NULL
 * without an error for the rest (the column's cell: a SysV id and key, a ref). `types`: (PipeInfo, UnixInfo). */
static PyObject *name_cell(Column *c, PyObject *obj, PyObject *info, PyObject *types, PyObject *escape)
{
    if (PyTuple_GET_SIZE(types) != 2)
        return NULL;
    int is = PyObject_IsInstance(info, PyTuple_GET_ITEM(types, 0));
    PyObject *holders, *cell = NULL;
    if (is != 0) {                      /* a pipe, or an error */
        if (is < 0 || (holders = attr(c, obj, s_holders)) == NULL)
            return NULL;
        cell = ends(holders, 'w', holders, 'r', c_pipe, escape);
        Py_DECREF(holders);
        return cell;
    }
    if ((is = PyObject_IsInstance(info, PyTuple_GET_ITEM(types, 1))) < 0)
        return NULL;
    PyObject *peer = is ? attr(c, info, s_peer) : Py_NewRef(Py_None);
    if (peer == NULL)
        return NULL;
    if (peer != Py_None) {              /* a connected socket */
        PyObject *theirs = attr(c, info, s_peer_holders);
        holders = theirs == NULL ? NULL : attr(c, obj, s_holders);
        if (holders != NULL)
            cell = ends(holders, 0, theirs, 0, c_socket, escape);
        Py_XDECREF(holders);
        Py_XDECREF(theirs);
    } else {
        PyObject *name = attr(c, obj, s_name);
        if (name != NULL && PyUnicode_CheckExact(name) && PyUnicode_GET_LENGTH(name))
            cell = escaped(name, escape);
        Py_XDECREF(name);
    }
    Py_DECREF(peer);
    return cell;
}

/* The value a column reads: the object's attribute, or its info's (None when it has no info or no such value). */
static PyObject *value(PyObject *obj, Column *c)
{
    if (!c->in_info)
        return attr(c, obj, c->field);
    PyObject *info = attr(c, obj, s_info);
    if (info == NULL || info == Py_None)
        return info;
    PyObject *v = attr(c, info, c->field);
    Py_DECREF(info);
    if (v == NULL && PyErr_ExceptionMatches(PyExc_AttributeError)) {
        PyErr_Clear();
        v = Py_NewRef(Py_None);
    }
    return v;
}

/* human_size of the info's `field` (a socket's queue), unless the socket listens (its backlog set): NULL (the
 * column's cell) then, or for a value human_size does not take here. */
static PyObject *queue_cell(Column *c, PyObject *info, PyObject *field)
{
    if (info == Py_None)
        return NULL;
    PyObject *backlog = attr(c, info, s_backlog), *v = NULL, *cell = NULL;
    long long n;
    if (backlog == Py_None && (v = attr(c, info, field)) != NULL) {
        if (v == Py_None)
            cell = Py_NewRef(c_unknown);
        else if (as_ll(v, &n) && n >= 0)
            cell = human_size(n);
    }
    Py_XDECREF(backlog);
    Py_XDECREF(v);
    PyErr_Clear();                      /* a record without those values: the column's cell says what */
    return cell;
}

/* views.sem_values: `0,1,?` for the first SEMS_SHOWN values of a set, `,…` after them when there are more. */
static PyObject *sem_values(Column *c, PyObject *sems)
{
    if (sems == Py_None)
        return Py_NewRef(c_unknown);
    if (!PyTuple_CheckExact(sems))
        return NULL;
    char buf[SEMS_SHOWN * 22];
    int len = 0;
    Py_ssize_t n = PyTuple_GET_SIZE(sems);
    for (Py_ssize_t i = 0; i < n && i < SEMS_SHOWN; i++) {
        PyObject *v = attr(c, PyTuple_GET_ITEM(sems, i), s_value);
        long long value;
        int ok = v == Py_None || (v != NULL && as_ll(v, &value));
        if (ok) {
            char number[24], *end = number + sizeof number, *start = v == Py_None ? end - 1 : digits(end, value);
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

/* The cell of a value by the column's op: a new reference; NULL without an error: the column's cell says it. */
static PyObject *op_cell(Column *c, PyObject *obj, PyObject *v, PyObject *escape)
{
    long long n;
    switch (c->op) {
    case OP_NUMBER:
        if (v == Py_None)
            return Py_NewRef(c_unknown);
        return PyLong_CheckExact(v) ? PyObject_Str(v) : NULL;
    case OP_SIZE:
        if (v == Py_None)
            return Py_NewRef(c_unknown);
        return as_ll(v, &n) && n >= 0 ? human_size(n) : NULL;
    case OP_TEXT:
        if (v == Py_None)
            return Py_NewRef(c_empty);
        return PyUnicode_CheckExact(v) ? escaped(v, escape) : NULL;
    case OP_PERMS: {                    /* IpcObject.perms: "0644", None for no mode */
        if (v == Py_None)
            return Py_NewRef(c_empty);
        if (!as_ll(v, &n))
            return NULL;
        char perms[4];
        for (int i = 3; i >= 0; i--, n >>= 3)
            perms[i] = (char)('0' + (n & 7));
        return PyUnicode_FromStringAndSize(perms, 4);
    }
    case OP_KEY: {
        if (v == Py_None)
            return Py_NewRef(c_unknown);
        if (!as_ll(v, &n))
            return NULL;
        static const char HEX[] = "0123456789abcdef";
        char key[10] = {'0', 'x'};
        for (int i = 9; i >= 2; i--, n >>= 4)
            key[i] = HEX[n & 15];
        return PyUnicode_FromStringAndSize(key, sizeof key);
    }
    case OP_HOLDERS:                    /* views.holders_summary */
        return end_text(v, 0, c_dash, escape);
    case OP_PIPE_ENDS:
        return ends(v, 'w', v, 'r', c_pipe, escape);
    case OP_MARK: {                     /* views.mark: stale, else wait while threads are blocked on it */
        if (v == Py_True)
            return Py_NewRef(c_stale);
        if (v != Py_False)
            return NULL;
        PyObject *waiters = attr(c, obj, s_waiters);
        if (waiters == NULL || !PyTuple_CheckExact(waiters)) {
            Py_XDECREF(waiters);
            return NULL;
        }
        PyObject *cell = Py_NewRef(PyTuple_GET_SIZE(waiters) ? c_wait : c_empty);
        Py_DECREF(waiters);
        return cell;
    }
    case OP_STALE: {                    /* the reason, escaped, of a stale object */
        if (v == Py_False)
            return Py_NewRef(c_empty);
        if (v != Py_True)
            return NULL;
        PyObject *reason = attr(c, obj, s_stale_reason), *cell = NULL;
        if (reason == Py_None)
            cell = Py_NewRef(c_empty);
        else if (reason != NULL && PyUnicode_CheckExact(reason))
            cell = escaped(reason, escape);
        Py_XDECREF(reason);
        return cell;
    }
    case OP_NAME:
        return name_cell(c, obj, v, c->field, escape);
    case OP_QUEUE:                      /* views.recv_queue_cell, send_queue_cell of a socket that does not listen */
        return queue_cell(c, v, c->field);
    case OP_SEM_VALUES:
        return sem_values(c, v);
    default:
        return NULL;
    }
}

/* The attribute an op reads first (OP_CALL: none). */
static PyObject *first_value(PyObject *obj, Column *c)
{
    switch (c->op) {
    case OP_HOLDERS:
    case OP_PIPE_ENDS:
        return attr(c, obj, s_holders);
    case OP_MARK:
    case OP_STALE:
        return attr(c, obj, s_stale);
    case OP_NAME:
    case OP_QUEUE:
        return attr(c, obj, s_info);
    case OP_PERMS:
        return attr(c, obj, s_mode);
    case OP_KEY:
        return attr(c, obj, s_key);
    default:
        return value(obj, c);
    }
}

static PyObject *cell(Column *c, PyObject *obj, PyObject *escape)
{
    if (c->op != OP_CALL) {
        PyObject *v = first_value(obj, c);
        if (v == NULL)
            return NULL;
        PyObject *shown = op_cell(c, obj, v, escape);
        Py_DECREF(v);
        if (shown != NULL || PyErr_Occurred())
            return shown;
    }
    PyObject *shown = PyObject_CallOneArg(c->cell, obj);
    if (shown != NULL && !PyUnicode_Check(shown)) {
        Py_SETREF(shown, NULL);
        PyErr_SetString(PyExc_TypeError, "a column's cell must return a str");
    }
    return shown;
}

static int read_column(Column *c, PyObject *spec, PyObject **title)
{
    c->nplaces = 0;
    if (!PyArg_ParseTuple(spec, "UiOpO", title, &c->op, &c->field, &c->in_info, &c->cell))
        return -1;
    if (c->op < 0 || c->op >= OP_COUNT) {
        PyErr_SetString(PyExc_ValueError, "an unknown op");
        return -1;
    }
    int named = c->op == OP_NUMBER || c->op == OP_SIZE || c->op == OP_TEXT || c->op == OP_QUEUE
                || c->op == OP_SEM_VALUES;
    if ((named && !PyUnicode_Check(c->field)) || (c->op == OP_NAME && !PyTuple_Check(c->field))) {
        PyErr_SetString(PyExc_TypeError, "a column's field: an attribute's name (for OP_NAME a tuple of types)");
        return -1;
    }
    return 0;
}

static PyObject *cells(PyObject *Py_UNUSED(self), PyObject *args)
{
    PyObject *columns, *objects, *escape;
    if (!PyArg_ParseTuple(args, "O!OO", &PyTuple_Type, &columns, &objects, &escape))
        return NULL;
    Py_ssize_t ncols = PyTuple_GET_SIZE(columns);
    if (ncols > MAX_COLUMNS)
        return PyErr_Format(PyExc_ValueError, "more than %d columns", MAX_COLUMNS);
    PyObject *seq = PySequence_Fast(objects, "objects must be a sequence");
    if (seq == NULL)
        return NULL;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
    PyObject *out = PyList_New(ncols);
    for (Py_ssize_t j = 0; out != NULL && j < ncols; j++) {
        Column c;
        PyObject *title, *col = NULL;
        if (read_column(&c, PyTuple_GET_ITEM(columns, j), &title) == 0 && (col = PyList_New(n + 1)) != NULL) {
            PyList_SET_ITEM(col, 0, Py_NewRef(title));
            for (Py_ssize_t i = 0; i < n; i++) {
                PyObject *shown = cell(&c, PySequence_Fast_GET_ITEM(seq, i), escape);
                if (shown == NULL) {
                    Py_CLEAR(col);
                    break;
                }
                PyList_SET_ITEM(col, i + 1, shown);
            }
        }
        if (col == NULL)
            Py_CLEAR(out);
        else
            PyList_SET_ITEM(out, j, col);
    }
    Py_DECREF(seq);
    return out;
}

/* The cells of each character of the BMP cell_len has measured, plus one (0: not yet): a character's width is fixed. */
static unsigned char bmp_cells[0x10000];

/* The terminal cells of one character: cell_len of it alone (an ASCII character takes one). */
static Py_ssize_t char_cells(Py_UCS4 ch, PyObject *cell_len)
{
    if (ch < 0x80)
        return 1;
    if (ch < 0x10000 && bmp_cells[ch])
        return bmp_cells[ch] - 1;
    PyObject *one = PyUnicode_FromOrdinal((int)ch);
    PyObject *n = one == NULL ? NULL : PyObject_CallOneArg(cell_len, one);
    Py_ssize_t cells = n == NULL ? -1 : PyLong_AsSsize_t(n);
    Py_XDECREF(one);
    Py_XDECREF(n);
    if (ch < 0x10000 && cells >= 0 && cells < 255)
        bmp_cells[ch] = (unsigned char)(cells + 1);
    return cells;
}

/* The terminal cells of a text, the sum of its characters' as text.cell_len counts them (ASCII: its length); -1
 * with an error set. */
static Py_ssize_t width_of(PyObject *text, PyObject *cell_len)
{
    if (!PyUnicode_Check(text)) {
        PyErr_SetString(PyExc_TypeError, "a cell must be a str");
        return -1;
    }
    Py_ssize_t n = PyUnicode_GET_LENGTH(text), cells = 0;
    if (PyUnicode_IS_ASCII(text))
        return n;
    int kind = PyUnicode_KIND(text);
    const void *data = PyUnicode_DATA(text);
    for (Py_ssize_t i = 0; i < n; i++) {
        Py_ssize_t one = char_cells(PyUnicode_READ(kind, data, i), cell_len);
        if (one < 0)
            return -1;
        cells += one;
    }
    return cells;
}

static PyObject *widths(PyObject *Py_UNUSED(self), PyObject *args)
{
    PyObject *texts, *cell_len;
    if (!PyArg_ParseTuple(args, "O!O", &PyList_Type, &texts, &cell_len))
        return NULL;
    Py_ssize_t ncols = PyList_GET_SIZE(texts);
    PyObject *out = PyList_New(ncols);
    for (Py_ssize_t j = 0; out != NULL && j < ncols; j++) {
        PyObject *col = PyList_GET_ITEM(texts, j);
        Py_ssize_t widest = 0, w = 0;
        if (!PyList_Check(col)) {
            PyErr_SetString(PyExc_TypeError, "a column's texts must be a list");
            w = -1;
        }
        for (Py_ssize_t i = 0; w >= 0 && i < PyList_GET_SIZE(col); i++)
            if ((w = width_of(PyList_GET_ITEM(col, i), cell_len)) > widest)
                widest = w;
        PyObject *item = w < 0 ? NULL : PyLong_FromSsize_t(widest);
        if (item == NULL)
            Py_CLEAR(out);
        else
            PyList_SET_ITEM(out, j, item);
    }
    return out;
}

/* `n` spaces at `pos` of a str being written. */
static void spaces(int kind, void *data, Py_ssize_t pos, Py_ssize_t n)
{
    if (kind == PyUnicode_1BYTE_KIND) {
        memset((Py_UCS1 *)data + pos, ' ', (size_t)(n > 0 ? n : 0));
        return;
    }
    for (Py_ssize_t i = 0; i < n; i++)
        PyUnicode_WRITE(kind, data, pos + i, ' ');
}

static PyObject *rows(PyObject *Py_UNUSED(self), PyObject *args)
{
    PyObject *texts, *widths_list, *numeric, *cell_len;
    Py_ssize_t indent;
    if (!PyArg_ParseTuple(args, "O!O!O!On", &PyList_Type, &texts, &PyList_Type, &widths_list, &PyList_Type, &numeric,
                          &cell_len, &indent))
        return NULL;
    Py_ssize_t ncols = PyList_GET_SIZE(texts), nrows = -1;
    if (PyList_GET_SIZE(widths_list) != ncols || PyList_GET_SIZE(numeric) != ncols)
        return PyErr_Format(PyExc_ValueError, "texts, widths and numeric differ in length");
    if (ncols > MAX_COLUMNS)
        return PyErr_Format(PyExc_ValueError, "more than %d columns", MAX_COLUMNS);
    if (indent < 0)
        return PyErr_Format(PyExc_ValueError, "a negative indent");
    Py_ssize_t width[MAX_COLUMNS];
    int right[MAX_COLUMNS], nshown = 0;
    PyObject *shown[MAX_COLUMNS];
    for (Py_ssize_t j = 0; j < ncols; j++) {
        PyObject *col = PyList_GET_ITEM(texts, j), *w = PyList_GET_ITEM(widths_list, j);
        if (!PyList_Check(col) || (nrows >= 0 && PyList_GET_SIZE(col) != nrows))
            return PyErr_Format(PyExc_ValueError, "each column's texts: a list, as long as the others");
        nrows = PyList_GET_SIZE(col);
        if (w == Py_None)
            continue;
        if ((width[nshown] = PyLong_AsSsize_t(w)) < 0)
            return PyErr_Occurred() ? NULL : PyErr_Format(PyExc_ValueError, "a negative width");
        if ((right[nshown] = PyObject_IsTrue(PyList_GET_ITEM(numeric, j))) < 0)
            return NULL;
        shown[nshown++] = col;
    }
    /* The widest character and room for every row: a text and its width's padding at most, the gaps, a newline. */
    Py_UCS4 widest = 127;
    Py_ssize_t room = nrows > 0 ? nrows * (indent + 2 * (nshown > 0 ? nshown - 1 : 0) + 1) : 0;
    for (int k = 0; k < nshown; k++)
        for (Py_ssize_t i = 0; i < nrows; i++) {
            PyObject *text = PyList_GET_ITEM(shown[k], i);
            if (!PyUnicode_Check(text))
                return PyErr_Format(PyExc_TypeError, "a cell must be a str");
            widest = Py_MAX(widest, PyUnicode_MAX_CHAR_VALUE(text));
            room += PyUnicode_GET_LENGTH(text) + width[k];
        }
    PyObject *out = PyUnicode_New(room, widest);
    if (out == NULL)
        return NULL;
    int kind = PyUnicode_KIND(out);
    void *data = PyUnicode_DATA(out);
    Py_ssize_t pos = 0;
    for (Py_ssize_t i = 0; i < nrows; i++) {
        if (i)
            PyUnicode_WRITE(kind, data, pos++, '\n');
        spaces(kind, data, pos, indent);
        Py_ssize_t start = pos += indent;
        for (int k = 0; k < nshown; k++) {
            PyObject *text = PyList_GET_ITEM(shown[k], i);
            Py_ssize_t n = PyUnicode_GET_LENGTH(text), used = width_of(text, cell_len);
            Py_ssize_t pad = used < 0 ? 0 : Py_MIN(Py_MAX(width[k] - used, 0), width[k]);
            if (used < 0)
                goto failed;
            if (k) {
                spaces(kind, data, pos, 2);
                pos += 2;
            }
            int number = right[k] && i;
            if (number) {
                spaces(kind, data, pos, pad);
                pos += pad;
            }
            if (n && PyUnicode_CopyCharacters(out, pos, text, 0, n) < 0)
                goto failed;
            pos += n;
            if (!number) {
                spaces(kind, data, pos, pad);
                pos += pad;
            }
        }
        while (pos > start && Py_UNICODE_ISSPACE(PyUnicode_READ(kind, data, pos - 1)))  /* str.rstrip */
            pos--;
    }
    if (PyUnicode_Resize(&out, pos) == 0)
        return out;
failed:
    Py_XDECREF(out);
    return NULL;
}

static PyMethodDef methods[] = {
    {"cells", cells, METH_VARARGS, "cells(columns, objects, escape) -> each column's title and cells"},
    {"widths", widths, METH_VARARGS, "widths(texts, cell_len) -> each column's widest text in cells"},
    {"rows", rows, METH_VARARGS, "rows(texts, widths, numeric, cell_len, indent) -> the table's rows as one str"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_tables", NULL, -1, methods, NULL, NULL, NULL, NULL};

static int intern(PyObject **slot, const char *s)
{
    *slot = PyUnicode_InternFromString(s);
    return *slot == NULL ? -1 : 0;
}

PyMODINIT_FUNC PyInit__tables(void)
{
    if (intern(&s_info, "info") || intern(&s_holders, "holders") || intern(&s_waiters, "waiters")
        || intern(&s_stale, "stale") || intern(&s_stale_reason, "stale_reason") || intern(&s_name, "name")
        || intern(&s_key, "key") || intern(&s_mode, "mode") || intern(&c_empty, "") || intern(&c_unknown, "?")
        || intern(&c_dash, "-") || intern(&c_stale, "stale") || intern(&c_wait, "wait") || intern(&s_peer, "peer")
        || intern(&s_peer_holders, "peer_holders") || intern(&c_nobody, "nobody") || intern(&c_pipe, " \xe2\x86\x92 ")
        || intern(&c_socket, " \xe2\x87\x84 ") || intern(&s_backlog, "backlog") || intern(&s_value, "value")
        || intern(&c_more, ",\xe2\x80\xa6"))
        return NULL;
    return PyModule_Create(&module);
}
