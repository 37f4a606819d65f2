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
 * This file reads the columns' values and applies their ops; _tables_text.c writes the text of a cell,
 * _tables_rows.c the rows.
 */
#include "_tables.h"

#include <string.h>
#include <structmember.h>

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
PyObject *tables_attr(Column *c, PyObject *obj, PyObject *name)
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
PyObject *s_info, *s_holders, *s_waiters, *s_stale, *s_stale_reason, *s_name, *s_key, *s_mode, *s_peer,
    *s_peer_holders, *s_backlog, *s_value;
PyObject *c_empty, *c_unknown, *c_dash, *c_stale, *c_wait, *c_nobody, *c_pipe, *c_socket, *c_more;

/* The value a column reads: the object's attribute, or its info's (None when it has no info or no such value). */
static PyObject *value(PyObject *obj, Column *c)
{
    if (!c->in_info)
        return tables_attr(c, obj, c->field);
    PyObject *info = tables_attr(c, obj, s_info);
    if (info == NULL || info == Py_None)
        return info;
    PyObject *v = tables_attr(c, info, c->field);
    Py_DECREF(info);
    if (v == NULL && PyErr_ExceptionMatches(PyExc_AttributeError)) {
        PyErr_Clear();
        v = Py_NewRef(Py_None);
    }
    return v;
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
        return tables_as_ll(v, &n) && n >= 0 ? tables_human_size(n) : NULL;
    case OP_TEXT:
        if (v == Py_None)
            return Py_NewRef(c_empty);
        return PyUnicode_CheckExact(v) ? tables_escaped(v, escape) : NULL;
    case OP_PERMS: {                    /* IpcObject.perms: "0644", None for no mode */
        if (v == Py_None)
            return Py_NewRef(c_empty);
        if (!tables_as_ll(v, &n))
            return NULL;
        char perms[4];
        for (int i = 3; i >= 0; i--, n >>= 3)
            perms[i] = (char)('0' + (n & 7));
        return PyUnicode_FromStringAndSize(perms, 4);
    }
    case OP_KEY: {
        if (v == Py_None)
            return Py_NewRef(c_unknown);
        if (!tables_as_ll(v, &n))
            return NULL;
        static const char HEX[] = "0123456789abcdef";
        char key[10] = {'0', 'x'};
        for (int i = 9; i >= 2; i--, n >>= 4)
            key[i] = HEX[n & 15];
        return PyUnicode_FromStringAndSize(key, sizeof key);
    }
    case OP_HOLDERS:                    /* views.holders_summary */
        return tables_end_text(v, 0, c_dash, escape);
    case OP_PIPE_ENDS:
        return tables_ends(v, 'w', v, 'r', c_pipe, escape);
    case OP_MARK: {                     /* views.mark: stale, else wait while threads are blocked on it */
        if (v == Py_True)
            return Py_NewRef(c_stale);
        if (v != Py_False)
            return NULL;
        PyObject *waiters = tables_attr(c, obj, s_waiters);
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
        PyObject *reason = tables_attr(c, obj, s_stale_reason), *cell = NULL;
        if (reason == Py_None)
            cell = Py_NewRef(c_empty);
        else if (reason != NULL && PyUnicode_CheckExact(reason))
            cell = tables_escaped(reason, escape);
        Py_XDECREF(reason);
        return cell;
    }
    case OP_NAME:
        return tables_name_cell(c, obj, v, c->field, escape);
    case OP_QUEUE:                      /* views.recv_queue_cell, send_queue_cell of a socket that does not listen */
        return tables_queue_cell(c, v, c->field);
    case OP_SEM_VALUES:
        return tables_sem_values(c, v);
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
        return tables_attr(c, obj, s_holders);
    case OP_MARK:
    case OP_STALE:
        return tables_attr(c, obj, s_stale);
    case OP_NAME:
    case OP_QUEUE:
        return tables_attr(c, obj, s_info);
    case OP_PERMS:
        return tables_attr(c, obj, s_mode);
    case OP_KEY:
        return tables_attr(c, obj, s_key);
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

static PyMethodDef methods[] = {
    {"cells", cells, METH_VARARGS, "cells(columns, objects, escape) -> each column's title and cells"},
    {"widths", tables_widths, METH_VARARGS, "widths(texts, cell_len) -> each column's widest text in cells"},
    {"rows", tables_rows, METH_VARARGS, "rows(texts, widths, numeric, cell_len, indent) -> the rows as one str"},
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
