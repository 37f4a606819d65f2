/* The object list of `list --json` written straight to JSON bytes (the compiled helper; ipcwatch/native/objjson.py
 * holds the Python side: the plan and the twin).
 *
 * plan(objects, records, infos, escape) -> capsule
 *     `objects`, `records`, `infos`: tuples of (type, ((key, field, how), ...)); `field` is an item index (a
 *     NamedTuple) or the slot's member descriptor; `how` one of the HOW_* codes below (objjson.HOWS, same order).
 *     `objects` holds the listed objects' class, `records` the classes written as their own JSON object (a holder),
 *     `infos` the classes whose values join their object's (IpcObject.info). `escape` is ipcwatch.text.escape.
 * encode(plan, objects, namespace, fallback) -> bytes
 *     The objects' JSON, comma-separated. `namespace(ns)` gives a namespace's JSON bytes; an object the plan cannot
 *     express (a value of an unknown type, a float, a str subclass, a lone surrogate) is written by `fallback(obj)`,
 *     which returns its bytes. Strings are written as json.dumps(ensure_ascii=False) writes them.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <structmember.h>
#include <string.h>

#include "_grow.h"

enum { HOW_AS_IS, HOW_ESCAPED, HOW_ESCAPED_OR_NULL, HOW_PERMS, HOW_RECORDS, HOW_NAMESPACE, HOW_INFO,
       HOW_ESCAPED_IF_SET, HOW_VALUE, HOW_COUNT };
#define KEY_CAP 48                      /* `,"key":` and its NUL */
#define OK 0
#define FAILED -1                       /* an exception is set */
#define UNEXPRESSED 1                   /* the plan cannot write this object: its fallback does */

typedef struct {
    char key[KEY_CAP];                  /* `,"key":` */
    size_t keylen;
    Py_ssize_t index;                   /* item index, or -1: read the slot at `offset` */
    Py_ssize_t offset;
    int how;
} Op;

typedef struct {
    PyTypeObject *type;
    Py_ssize_t nops;
    Op *ops;
} Record;

typedef struct {
    Record *objects, *records, *infos;
    Py_ssize_t nobjects, nrecords, ninfos;
    PyObject *escape;
} Plan;

typedef struct {
    char *p;
    size_t len, cap;
    const Plan *plan;
    PyObject *namespace, *last_ns, *last_ns_json;   /* a one-namespace cache: neighbours share theirs */
} Out;

static const char HEX[] = "0123456789abcdef";

static int put(Out *o, const char *s, size_t n)
{
    if (grow((void **)&o->p, &o->cap, o->len + n, 1) < 0) {
        PyErr_NoMemory();
        return FAILED;
    }
    memcpy(o->p + o->len, s, n);
    o->len += n;
    return OK;
}

/* UTF-8 bytes as a JSON string, escaped as the stdlib's encoder does (ensure_ascii=False). */
static int put_utf8(Out *o, const unsigned char *s, size_t n)
{
    if (grow((void **)&o->p, &o->cap, o->len + n * 6 + 2, 1) < 0) {
        PyErr_NoMemory();
        return FAILED;
    }
    char *w = o->p + o->len;
    *w++ = '"';
    for (size_t i = 0; i < n; i++) {
        unsigned char c = s[i];
        if (c >= 0x20 && c != '"' && c != '\\') {
            *w++ = (char)c;
            continue;
        }
        *w++ = '\\';
        switch (c) {
        case '"': *w++ = '"'; break;
        case '\\': *w++ = '\\'; break;
        case '\n': *w++ = 'n'; break;
        case '\r': *w++ = 'r'; break;
        case '\t': *w++ = 't'; break;
        case '\b': *w++ = 'b'; break;
        case '\f': *w++ = 'f'; break;
        default:
            memcpy(w, "u00", 3);
            w[3] = HEX[c >> 4];
            w[4] = HEX[c & 15];
            w += 5;
        }
    }
    *w++ = '"';
    o->len = (size_t)(w - o->p);
    return OK;
}

/* A str as it is (no ipcwatch escaping; a subclass's, a StrEnum's, by its characters, as json.dumps writes it); a
 * lone surrogate is left to the fallback. */
static int put_raw(Out *o, PyObject *s)
{
    if (!PyUnicode_Check(s))
        return UNEXPRESSED;
    Py_ssize_t n;
    const char *u = PyUnicode_AsUTF8AndSize(s, &n);
    if (u == NULL) {
        if (!PyErr_ExceptionMatches(PyExc_UnicodeEncodeError))
            return FAILED;
        PyErr_Clear();
        return UNEXPRESSED;
    }
    return put_utf8(o, (const unsigned char *)u, (size_t)n);
}

/* A str through ipcwatch.text.escape: printable ASCII without a backslash is what escape returns, written here (a
 * str subclass always goes through escape). */
static int put_escaped(Out *o, PyObject *s)
{
    if (!PyUnicode_Check(s))
        return UNEXPRESSED;
    if (PyUnicode_CheckExact(s) && PyUnicode_IS_ASCII(s)) {
        const unsigned char *d = PyUnicode_1BYTE_DATA(s);
        Py_ssize_t n = PyUnicode_GET_LENGTH(s), i = 0;
        while (i < n && d[i] >= 0x20 && d[i] < 0x7f && d[i] != '\\')
            i++;
        if (i == n)
            return put_utf8(o, d, (size_t)n);
    }
    PyObject *shown = PyObject_CallOneArg(o->plan->escape, s);
    if (shown == NULL)
        return FAILED;
    int rc = put_raw(o, shown);
    Py_DECREF(shown);
    return rc;
}

static int put_int(Out *o, PyObject *v)
{
    int overflow = 0;
    long long n = PyLong_AsLongLongAndOverflow(v, &overflow);
    if (n == -1 && PyErr_Occurred())
        return FAILED;
    if (!overflow) {                    /* the digits by hand: snprintf costs most of an object's time */
        char digits[24], *d = digits + sizeof digits;
        unsigned long long u = n < 0 ? 0ULL - (unsigned long long)n : (unsigned long long)n;
        do {
            *--d = (char)('0' + u % 10);
            u /= 10;
        } while (u);
        if (n < 0)
            *--d = '-';
        return put(o, d, (size_t)(digits + sizeof digits - d));
    }
    PyObject *text = PyObject_Str(v);   /* beyond 64 bits: int's own digits */
    if (text == NULL)
        return FAILED;
    Py_ssize_t len;
    const char *u = PyUnicode_AsUTF8AndSize(text, &len);
    int rc = u == NULL ? FAILED : put(o, u, (size_t)len);
    Py_DECREF(text);
    return rc;
}

/* None, a bool or an int: written, OK; anything else: UNEXPRESSED, nothing written. */
static int put_plain(Out *o, PyObject *v)
{
    if (v == Py_None)
        return put(o, "null", 4);
    if (v == Py_True)
        return put(o, "true", 4);
    if (v == Py_False)
        return put(o, "false", 5);
    if (PyLong_CheckExact(v))
        return put_int(o, v);
    return UNEXPRESSED;
}

/* An op's `,"key":` (without its comma when `lead`): a fixed-size copy, which the compiler inlines. */
static int put_key(Out *o, const Op *op, int lead)
{
    if (grow((void **)&o->p, &o->cap, o->len + KEY_CAP, 1) < 0) {
        PyErr_NoMemory();
        return FAILED;
    }
    memcpy(o->p + o->len, op->key + lead, KEY_CAP - 1);
    o->len += op->keylen - (size_t)lead;
    return OK;
}

static int put_namespace(Out *o, PyObject *ns)
{
    if (ns != o->last_ns) {
        PyObject *json = PyObject_CallOneArg(o->namespace, ns);
        if (json == NULL)
            return FAILED;
        if (!PyBytes_Check(json)) {
            Py_DECREF(json);
            PyErr_SetString(PyExc_TypeError, "namespace() must return bytes");
            return FAILED;
        }
        Py_XSETREF(o->last_ns_json, json);
        o->last_ns = ns;                /* alive while its object is: the objects are held by the caller */
    }
    return put(o, PyBytes_AS_STRING(o->last_ns_json), (size_t)PyBytes_GET_SIZE(o->last_ns_json));
}

static const Record *find(const Record *table, Py_ssize_t n, PyTypeObject *type)
{
    for (Py_ssize_t i = 0; i < n; i++)
        if (table[i].type == type)
            return &table[i];
    return NULL;
}

static int put_fields(Out *o, const Record *r, PyObject *obj, int first);

static int put_record(Out *o, PyObject *v)
{
    const Record *r = find(o->plan->records, o->plan->nrecords, Py_TYPE(v));
    if (r == NULL)
        return UNEXPRESSED;
    int rc = put(o, "{", 1);
    if (rc == OK)
        rc = put_fields(o, r, v, 1);
    return rc == OK ? put(o, "}", 1) : rc;
}

/* model.json_value: plain values as they are, strings escaped, tuples as lists, records, namespaces. */
static int put_value(Out *o, PyObject *v)
{
    int rc = put_plain(o, v);
    if (rc != UNEXPRESSED)
        return rc;
    if (PyUnicode_Check(v))
        return put_escaped(o, v);
    if (PyTuple_CheckExact(v)) {
        rc = put(o, "[", 1);
        for (Py_ssize_t i = 0; rc == OK && i < PyTuple_GET_SIZE(v); i++) {
            if (i)
                rc = put(o, ",", 1);
            if (rc == OK)
                rc = put_value(o, PyTuple_GET_ITEM(v, i));
        }
        return rc == OK ? put(o, "]", 1) : rc;
    }
    rc = put_record(o, v);
    if (rc != UNEXPRESSED)
        return rc;
    rc = PyObject_HasAttrString(v, "brief_json");   /* a namespace (it has no to_json of its own) */
    return rc ? put_namespace(o, v) : UNEXPRESSED;
}

static int put_op(Out *o, const Op *op, PyObject *v)
{
    int rc;
    switch (op->how) {
    case HOW_AS_IS:
        rc = put_plain(o, v);
        return rc == UNEXPRESSED ? put_raw(o, v) : rc;
    case HOW_ESCAPED:
        return put_escaped(o, v);
    case HOW_ESCAPED_OR_NULL:
        return v == Py_None ? put(o, "null", 4) : put_escaped(o, v);
    case HOW_PERMS: {
        if (v == Py_None)
            return put(o, "null", 4);
        if (!PyLong_CheckExact(v))
            return UNEXPRESSED;
        int overflow = 0;
        long long mode = PyLong_AsLongLongAndOverflow(v, &overflow);
        if (overflow) {                 /* past 64 bits: its low 12 bits as Python's `mode & 0o7777` gives them */
            PyObject *low = PyLong_FromLong(07777), *bits = low ? PyNumber_And(v, low) : NULL;
            Py_XDECREF(low);
            if (bits == NULL)
                return FAILED;
            mode = PyLong_AsLongLong(bits);
            Py_DECREF(bits);
        }
        char perms[6] = {'"', '0', '0', '0', '0', '"'};
        for (int i = 4; i > 0; i--, mode >>= 3)
            perms[i] = (char)('0' + (mode & 7));
        return put(o, perms, sizeof perms);
    }
    case HOW_RECORDS:
        if (!PyTuple_CheckExact(v))
            return UNEXPRESSED;
        rc = put(o, "[", 1);
        for (Py_ssize_t i = 0; rc == OK && i < PyTuple_GET_SIZE(v); i++) {
            if (i)
                rc = put(o, ",", 1);
            if (rc == OK)
                rc = put_record(o, PyTuple_GET_ITEM(v, i));
        }
        return rc == OK ? put(o, "]", 1) : rc;
    case HOW_NAMESPACE:
        return v == Py_None ? put(o, "null", 4) : put_namespace(o, v);
    case HOW_VALUE:
        return put_value(o, v);
    default:
        PyErr_SetString(PyExc_SystemError, "objjson: unknown conversion");
        return FAILED;
    }
}

static PyObject *field(const Op *op, PyObject *obj)
{
    if (op->index >= 0)
        return op->index < PyTuple_GET_SIZE(obj) ? PyTuple_GET_ITEM(obj, op->index) : NULL;
    return *(PyObject **)((char *)obj + op->offset);   /* NULL: a slot never set */
}

/* The record's keys and values; `first`: its first key opens the object (no comma before it). */
static int put_fields(Out *o, const Record *r, PyObject *obj, int first)
{
    for (Py_ssize_t i = 0; i < r->nops; i++) {
        const Op *op = &r->ops[i];
        PyObject *v = field(op, obj);
        if (v == NULL)
            return UNEXPRESSED;
        int lead = first && i == 0;     /* no comma before the first key */
        int rc;
        if (op->how == HOW_INFO) {
            if (v == Py_None)
                continue;
            const Record *info = find(o->plan->infos, o->plan->ninfos, Py_TYPE(v));
            if (info == NULL)
                return UNEXPRESSED;
            rc = put_fields(o, info, v, lead);
        } else if (op->how == HOW_ESCAPED_IF_SET) {
            if (v == Py_None)
                continue;
            rc = put_key(o, op, lead);
            if (rc == OK)
                rc = put_escaped(o, v);
        } else {
            rc = put_key(o, op, lead);
            if (rc == OK)
                rc = put_op(o, op, v);
        }
        if (rc != OK)
            return rc;
    }
    return OK;
}

/* ---- the plan ---- */

static void free_table(Record *table, Py_ssize_t n)
{
    if (table == NULL)
        return;
    for (Py_ssize_t i = 0; i < n; i++) {
        Py_XDECREF(table[i].type);
        PyMem_Free(table[i].ops);
    }
    PyMem_Free(table);
}

static void free_plan(PyObject *capsule)
{
    Plan *plan = PyCapsule_GetPointer(capsule, "ipcwatch.objjson.plan");
    if (plan == NULL)
        return;
    free_table(plan->objects, plan->nobjects);
    free_table(plan->records, plan->nrecords);
    free_table(plan->infos, plan->ninfos);
    Py_XDECREF(plan->escape);
    PyMem_Free(plan);
}

static int read_op(Op *op, PyObject *spec)
{
    PyObject *key, *where;
    int how;
    if (!PyTuple_Check(spec) || !PyArg_ParseTuple(spec, "UOi", &key, &where, &how))
        return PyErr_Occurred() ? FAILED : (PyErr_SetString(PyExc_TypeError, "an op is (key, field, how)"), FAILED);
    Py_ssize_t n;
    const char *k = PyUnicode_AsUTF8AndSize(key, &n);
    if (k == NULL)
        return FAILED;
    for (Py_ssize_t i = 0; i < n; i++)
        if (k[i] < 0x20 || k[i] >= 0x7f || k[i] == '"' || k[i] == '\\') {
            PyErr_SetString(PyExc_ValueError, "a key must be printable ASCII without quotes or backslashes");
            return FAILED;
        }
    if (n + 5 > KEY_CAP || how < 0 || how >= HOW_COUNT) {
        PyErr_SetString(PyExc_ValueError, "a key too long or an unknown conversion");
        return FAILED;
    }
    op->keylen = (size_t)snprintf(op->key, KEY_CAP, ",\"%s\":", k);
    op->how = how;
    if (PyLong_Check(where)) {
        op->index = PyLong_AsSsize_t(where);
        op->offset = 0;
        return op->index < 0 ? (PyErr_Occurred() ? FAILED : (PyErr_SetString(PyExc_ValueError, "index"), FAILED))
                             : OK;
    }
    if (!Py_IS_TYPE(where, &PyMemberDescr_Type)
        || ((PyMemberDescrObject *)where)->d_member->type != T_OBJECT_EX) {
        PyErr_SetString(PyExc_TypeError, "a field is an item index or a slot's member descriptor");
        return FAILED;
    }
    op->index = -1;
    op->offset = ((PyMemberDescrObject *)where)->d_member->offset;
    return OK;
}

static int read_table(PyObject *specs, Record **table, Py_ssize_t *count)
{
    if (!PyTuple_Check(specs)) {
        PyErr_SetString(PyExc_TypeError, "a table is a tuple of (type, ops)");
        return FAILED;
    }
    Py_ssize_t n = PyTuple_GET_SIZE(specs);
    *table = PyMem_Calloc((size_t)n + 1, sizeof(Record));
    if (*table == NULL) {
        PyErr_NoMemory();
        return FAILED;
    }
    *count = n;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *type, *ops;
        if (!PyArg_ParseTuple(PyTuple_GET_ITEM(specs, i), "O!O!", &PyType_Type, &type, &PyTuple_Type, &ops))
            return FAILED;
        Record *r = &(*table)[i];
        Py_INCREF(type);
        r->type = (PyTypeObject *)type;
        r->nops = PyTuple_GET_SIZE(ops);
        r->ops = PyMem_Calloc((size_t)r->nops + 1, sizeof(Op));
        if (r->ops == NULL) {
            PyErr_NoMemory();
            return FAILED;
        }
        int is_tuple = PyType_IsSubtype(r->type, &PyTuple_Type);
        for (Py_ssize_t j = 0; j < r->nops; j++) {
            if (read_op(&r->ops[j], PyTuple_GET_ITEM(ops, j)) < 0)
                return FAILED;
            if ((r->ops[j].index >= 0) != is_tuple) {
                PyErr_SetString(PyExc_TypeError, "a NamedTuple's fields are indexes, a slotted class's descriptors");
                return FAILED;
            }
        }
    }
    return OK;
}

static PyObject *plan(PyObject *self, PyObject *args)
{
    (void)self;
    PyObject *objects, *records, *infos, *escape;
    if (!PyArg_ParseTuple(args, "OOOO", &objects, &records, &infos, &escape))
        return NULL;
    Plan *p = PyMem_Calloc(1, sizeof(Plan));
    if (p == NULL)
        return PyErr_NoMemory();
    PyObject *capsule = PyCapsule_New(p, "ipcwatch.objjson.plan", free_plan);
    if (capsule == NULL) {
        PyMem_Free(p);
        return NULL;
    }
    Py_INCREF(escape);
    p->escape = escape;
    if (read_table(objects, &p->objects, &p->nobjects) < 0 || read_table(records, &p->records, &p->nrecords) < 0
        || read_table(infos, &p->infos, &p->ninfos) < 0) {
        Py_DECREF(capsule);
        return NULL;
    }
    return capsule;
}

static PyObject *encode(PyObject *self, PyObject *args)
{
    (void)self;
    PyObject *capsule, *objects, *namespace, *fallback;
    if (!PyArg_ParseTuple(args, "OOOO", &capsule, &objects, &namespace, &fallback))
        return NULL;
    const Plan *p = PyCapsule_GetPointer(capsule, "ipcwatch.objjson.plan");
    if (p == NULL)
        return NULL;
    PyObject *seq = PySequence_Fast(objects, "objects must be a sequence");
    if (seq == NULL)
        return NULL;
    Out o = {.plan = p, .namespace = namespace};
    PyObject *result = NULL;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
    if (grow((void **)&o.p, &o.cap, (size_t)n * 512, 1) < 0) {  /* about an object's JSON each: few reallocs */
        PyErr_NoMemory();
        goto done;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *obj = PySequence_Fast_GET_ITEM(seq, i);
        if (i && put(&o, ",", 1) < 0)
            goto done;
        size_t start = o.len;
        const Record *r = find(p->objects, p->nobjects, Py_TYPE(obj));
        int rc = r == NULL ? UNEXPRESSED : put(&o, "{", 1);
        if (rc == OK)
            rc = put_fields(&o, r, obj, 1);
        if (rc == OK)
            rc = put(&o, "}", 1);
        if (rc == FAILED)
            goto done;
        if (rc == UNEXPRESSED) {
            o.len = start;
            PyObject *json = PyObject_CallOneArg(fallback, obj);
            if (json == NULL)
                goto done;
            rc = PyBytes_Check(json) ? put(&o, PyBytes_AS_STRING(json), (size_t)PyBytes_GET_SIZE(json)) : FAILED;
            if (!PyBytes_Check(json))
                PyErr_SetString(PyExc_TypeError, "fallback() must return bytes");
            Py_DECREF(json);
            if (rc < 0)
                goto done;
        }
    }
    result = PyBytes_FromStringAndSize(o.p ? o.p : "", (Py_ssize_t)o.len);
done:
    free(o.p);
    Py_XDECREF(o.last_ns_json);
    Py_DECREF(seq);
    return result;
}

static PyMethodDef methods[] = {
    {"plan", plan, METH_VARARGS, "plan(objects, records, infos, escape) -> the compiled plan"},
    {"encode", encode, METH_VARARGS, "encode(plan, objects, namespace, fallback) -> the objects' JSON, comma-separated"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_objjson", NULL, -1, methods, NULL, NULL, NULL, NULL};

PyMODINIT_FUNC PyInit__objjson(void)
{
    return PyModule_Create(&module);
}
