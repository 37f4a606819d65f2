/* The object list of `list --json` written straight to JSON bytes: the compiled writer of ipcwatch/native/objjson.py,
 * which says what a plan is and what `encode` writes.
 *
 * plan(table, escape) -> capsule: `table` is ((type, role, ((key, field, how), ...)), ...), role a ROLE_* below, key
 *     the bytes `,"name":`, field an item index (a NamedTuple) or a slot's member descriptor, how a HOW_* below
 *     (objjson.HOWS); `escape` is ipcwatch.text.escape.
 * encode(plan, objects, namespace, fallback) -> bytes: the objects' JSON, comma-separated, as json.dumps writes it
 *     (ensure_ascii=False); an object the plan cannot express goes through fallback(obj) -> its bytes.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <structmember.h>
#include <string.h>

#include "_grow.h"

enum { HOW_AS_IS, HOW_ESCAPED, HOW_ESCAPED_OR_NULL, HOW_PERMS, HOW_RECORDS, HOW_NAMESPACE, HOW_INFO,
       HOW_ESCAPED_IF_SET, HOW_VALUE, HOW_COUNT };
enum { ROLE_OBJECT, ROLE_RECORD, ROLE_INFO };
#define KEY_CAP 48                      /* `,"key":` and the bytes after it a fixed-size copy reads */
enum { FAILED = -1, OK = 0, UNEXPRESSED = 1 };  /* FAILED: an exception is set; UNEXPRESSED: for the fallback */
#define PLAN_NAME "ipcwatch.objjson.plan"
#define MAX_OPS 32                      /* keys of one record */
#define MAX_RECORDS 32                  /* classes of a plan */

/* One key: `,"key":`, its value read at item `index`, or (index -1) from the slot at `offset`, written as `how` says */
typedef struct { char key[KEY_CAP]; size_t keylen; Py_ssize_t index, offset; int how; } Op;
typedef struct { PyTypeObject *type; int role; Py_ssize_t nops; Op ops[MAX_OPS]; } Record;
typedef struct { Record records[MAX_RECORDS]; Py_ssize_t nrecords; PyObject *escape; } Plan;
typedef struct {                        /* the bytes written, and a one-namespace cache (neighbours share theirs) */
    char *p; size_t len, cap; const Plan *plan; PyObject *namespace, *last_ns, *last_ns_json;
} Out;

static const char HEX[] = "0123456789abcdef";  /* and json.dumps's one-letter escapes (0: \u00XX): */
static const char SHORT[128] = {['"'] = '"', ['\\'] = '\\', ['\n'] = 'n', ['\r'] = 'r', ['\t'] = 't', ['\b'] = 'b',
                                ['\f'] = 'f'};

static int fail(PyObject *type, const char *message)
{
    PyErr_SetString(type, message);
    return FAILED;
}

/* Room for `n` more bytes. */
static int reserve(Out *o, size_t n)
{
    return grow((void **)&o->p, &o->cap, o->len + n, 1) < 0 ? (PyErr_NoMemory(), FAILED) : OK;
}

static int put(Out *o, const char *s, size_t n)
{
    if (reserve(o, n) < 0)
        return FAILED;
    memcpy(o->p + o->len, s, n);
    o->len += n;
    return OK;
}

/* UTF-8 bytes as a JSON string, escaped as the stdlib's encoder does (ensure_ascii=False). */
static int put_utf8(Out *o, const unsigned char *s, size_t n)
{
    if (reserve(o, n * 6 + 2) < 0)
        return FAILED;
    char *w = o->p + o->len;
    *w++ = '"';
    for (size_t i = 0; i < n; i++) {
        unsigned char c = s[i];
        if (c >= 0x20 && c != '"' && c != '\\') {
            *w++ = (char)c;
            continue;
        }
        *w++ = '\\';
        if (SHORT[c]) {
            *w++ = SHORT[c];
        } else {
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

/* A str as it is, not escaped (a subclass's, a StrEnum's, by its characters, as json.dumps writes it). */
static int put_raw(Out *o, PyObject *s)
{
    if (!PyUnicode_Check(s))
        return UNEXPRESSED;
    Py_ssize_t n;
    const char *u = PyUnicode_AsUTF8AndSize(s, &n);
    if (u == NULL)                      /* a lone surrogate: the fallback's */
        return PyErr_ExceptionMatches(PyExc_UnicodeEncodeError) ? (PyErr_Clear(), UNEXPRESSED) : FAILED;
    return put_utf8(o, (const unsigned char *)u, (size_t)n);
}

/* A str through ipcwatch.text.escape, but printable ASCII without a backslash: escape returns it as it is. */
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
    int rc = shown == NULL ? FAILED : put_raw(o, shown);
    Py_XDECREF(shown);
    return rc;
}

static int put_int(Out *o, PyObject *v)
{
    int overflow = 0;
    long long n = PyLong_AsLongLongAndOverflow(v, &overflow);  /* an exact int: no error */
    if (overflow)                       /* beyond 64 bits: the fallback's */
        return UNEXPRESSED;
    char digits[24], *d = digits + sizeof digits;  /* by hand: snprintf costs most of an object's time */
    unsigned long long u = n < 0 ? 0ULL - (unsigned long long)n : (unsigned long long)n;
    do {
        *--d = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (n < 0)
        *--d = '-';
    return put(o, d, (size_t)(digits + sizeof digits - d));
}

/* None, a bool or an int: written, OK; anything else: UNEXPRESSED, nothing written. */
static int put_plain(Out *o, PyObject *v)
{
    if (v == Py_None || v == Py_True || v == Py_False)
        return v == Py_False ? put(o, "false", 5) : put(o, v == Py_None ? "null" : "true", 4);
    return PyLong_CheckExact(v) ? put_int(o, v) : UNEXPRESSED;
}

/* "0644" from a mode: its low 12 bits in octal, as Python's `mode & 0o7777` gives them (null for None). */
static int put_perms(Out *o, PyObject *v)
{
    if (v == Py_None)
        return put(o, "null", 4);
    if (!PyLong_CheckExact(v))
        return UNEXPRESSED;
    int overflow = 0;
    long long mode = PyLong_AsLongLongAndOverflow(v, &overflow);  /* an exact int: no error */
    if (overflow)                       /* past 64 bits: the fallback's */
        return UNEXPRESSED;
    char perms[6] = {'"', '0', '0', '0', '0', '"'};
    for (int i = 4; i > 0; i--, mode >>= 3)
        perms[i] = (char)('0' + (mode & 7));
    return put(o, perms, sizeof perms);
}

static int put_namespace(Out *o, PyObject *ns)
{
    if (ns != o->last_ns) {
        PyObject *json = PyObject_CallOneArg(o->namespace, ns);
        Py_XSETREF(o->last_ns_json, json);
        o->last_ns = json != NULL && PyBytes_Check(json) ? ns : NULL;  /* alive while its object: the caller's */
        if (o->last_ns == NULL)
            return json == NULL ? FAILED : fail(PyExc_TypeError, "namespace() must return bytes");
    }
    return put(o, PyBytes_AS_STRING(o->last_ns_json), (size_t)PyBytes_GET_SIZE(o->last_ns_json));
}

static const Record *find(const Plan *plan, PyTypeObject *type, int role)
{
    for (Py_ssize_t i = 0; i < plan->nrecords; i++)
        if (plan->records[i].type == type && plan->records[i].role == role)
            return &plan->records[i];
    return NULL;
}

static int put_fields(Out *o, const Record *r, PyObject *obj, int *lead);

/* A record (a role 1 class) as its own JSON object; an object as `encode` writes it. */
static int put_object(Out *o, PyObject *v, int role)
{
    const Record *r = find(o->plan, Py_TYPE(v), role);
    int rc = r == NULL ? UNEXPRESSED : put(o, "{", 1), lead = 1;
    if (rc == OK)
        rc = put_fields(o, r, v, &lead);
    return rc == OK ? put(o, "}", 1) : rc;
}

static int put_value(Out *o, PyObject *v);

/* A tuple as a JSON list: records (ROLE_RECORD), or values (`put_value`) for -1. */
static int put_list(Out *o, PyObject *tuple, int role)
{
    int rc = put(o, "[", 1);
    for (Py_ssize_t i = 0; rc == OK && i < PyTuple_GET_SIZE(tuple); i++) {
        PyObject *item = PyTuple_GET_ITEM(tuple, i);
        rc = i ? put(o, ",", 1) : OK;
        if (rc == OK)
            rc = role < 0 ? put_value(o, item) : put_object(o, item, role);
    }
    return rc == OK ? put(o, "]", 1) : rc;
}

/* model.json_value: plain values as they are, strings escaped, tuples as lists, records, namespaces. */
static int put_value(Out *o, PyObject *v)
{
    int rc = put_plain(o, v);
    if (rc != UNEXPRESSED)
        return rc;
    if (PyUnicode_Check(v))
        return put_escaped(o, v);
    if (PyTuple_CheckExact(v))
        return put_list(o, v, -1);
    rc = put_object(o, v, ROLE_RECORD);
    if (rc != UNEXPRESSED)
        return rc;
    return PyObject_HasAttrString(v, "brief_json") ? put_namespace(o, v) : UNEXPRESSED;  /* a namespace */
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
    case HOW_PERMS:
        return put_perms(o, v);
    case HOW_RECORDS:
        return PyTuple_CheckExact(v) ? put_list(o, v, ROLE_RECORD) : UNEXPRESSED;
    case HOW_NAMESPACE:
        return v == Py_None ? put(o, "null", 4) : put_namespace(o, v);
    case HOW_VALUE:
        return put_value(o, v);
    default:
        return fail(PyExc_SystemError, "objjson: unknown conversion");
    }
}

/* The record's keys and values; `*lead`: the next key written opens the object (no comma before it). */
static int put_fields(Out *o, const Record *r, PyObject *obj, int *lead)
{
    for (Py_ssize_t i = 0; i < r->nops; i++) {
        const Op *op = &r->ops[i];
        PyObject *v;
        if (op->index >= 0)
            v = op->index < PyTuple_GET_SIZE(obj) ? PyTuple_GET_ITEM(obj, op->index) : NULL;
        else
            v = *(PyObject **)((char *)obj + op->offset);  /* NULL: a slot never set */
        if (v == NULL)
            return UNEXPRESSED;
        int rc;
        if ((op->how == HOW_INFO || op->how == HOW_ESCAPED_IF_SET) && v == Py_None)
            continue;                   /* no key at all */
        if (op->how == HOW_INFO) {
            const Record *info = find(o->plan, Py_TYPE(v), ROLE_INFO);
            rc = info == NULL ? UNEXPRESSED : put_fields(o, info, v, lead);
        } else if ((rc = reserve(o, KEY_CAP)) == OK) {  /* `,"key":`, by a fixed-size copy the compiler inlines */
            memcpy(o->p + o->len, op->key + *lead, KEY_CAP - 1);
            o->len += op->keylen - (size_t)*lead;
            *lead = 0;
            rc = op->how == HOW_ESCAPED_IF_SET ? put_escaped(o, v) : put_op(o, op, v);
        }
        if (rc != OK)
            return rc;
    }
    return OK;
}

static void free_plan(PyObject *capsule)
{
    Plan *plan = PyCapsule_GetPointer(capsule, PLAN_NAME);  /* never NULL: the capsule was made with it */
    for (Py_ssize_t i = 0; i < plan->nrecords; i++)
        Py_XDECREF(plan->records[i].type);
    Py_XDECREF(plan->escape);
    PyMem_Free(plan);
}

static int read_op(Op *op, PyObject *spec, PyTypeObject *type)
{
    const char *key;
    Py_ssize_t keylen;
    PyObject *where;
    if (!PyArg_ParseTuple(spec, "y#Oi", &key, &keylen, &where, &op->how))
        return FAILED;
    if (keylen < 4 || keylen >= KEY_CAP || op->how < 0 || op->how >= HOW_COUNT)
        return fail(PyExc_ValueError, "a key too long or an unknown conversion");
    memcpy(op->key, key, (size_t)keylen);
    op->keylen = (size_t)keylen;
    if (PyType_IsSubtype(type, &PyTuple_Type)) {
        op->index = PyLong_AsSsize_t(where);
        return op->index >= 0 ? OK : PyErr_Occurred() ? FAILED : fail(PyExc_ValueError, "a negative index");
    }
    if (!Py_IS_TYPE(where, &PyMemberDescr_Type) || ((PyMemberDescrObject *)where)->d_member->type != T_OBJECT_EX
        || !PyType_IsSubtype(type, PyDescr_TYPE(where)))
        return fail(PyExc_TypeError, "a slotted class's field is its own member descriptor");
    op->index = -1;
    op->offset = ((PyMemberDescrObject *)where)->d_member->offset;
    return OK;
}

static int read_record(Record *r, PyObject *spec)
{
    PyObject *type, *ops;
    if (!PyArg_ParseTuple(spec, "O!iO!", &PyType_Type, &type, &r->role, &PyTuple_Type, &ops))
        return FAILED;
    Py_INCREF(type);
    r->type = (PyTypeObject *)type;
    r->nops = PyTuple_GET_SIZE(ops);
    if (r->nops > MAX_OPS)
        return fail(PyExc_ValueError, "a record of too many keys");
    for (Py_ssize_t j = 0; j < r->nops; j++)
        if (read_op(&r->ops[j], PyTuple_GET_ITEM(ops, j), r->type) < 0)
            return FAILED;
    return OK;
}

static PyObject *plan(PyObject *Py_UNUSED(self), PyObject *args)
{
    PyObject *table, *escape;
    if (!PyArg_ParseTuple(args, "O!O", &PyTuple_Type, &table, &escape))
        return NULL;
    Plan *p = PyMem_Calloc(1, sizeof(Plan));
    PyObject *capsule = p ? PyCapsule_New(p, PLAN_NAME, free_plan) : PyErr_NoMemory();
    if (capsule == NULL) {
        PyMem_Free(p);
        return NULL;
    }
    Py_INCREF(escape);
    p->escape = escape;
    Py_ssize_t n = PyTuple_GET_SIZE(table);
    int rc = n > MAX_RECORDS ? fail(PyExc_ValueError, "a plan of too many classes") : OK;
    for (; rc == OK && p->nrecords < n; p->nrecords++)   /* counts the one that failed: free_plan releases it */
        rc = read_record(&p->records[p->nrecords], PyTuple_GET_ITEM(table, p->nrecords));
    if (rc == OK)
        return capsule;
    Py_DECREF(capsule);
    return NULL;
}

static PyObject *encode(PyObject *Py_UNUSED(self), PyObject *args)
{
    PyObject *capsule, *objects, *namespace, *fallback;
    if (!PyArg_ParseTuple(args, "OOOO", &capsule, &objects, &namespace, &fallback))
        return NULL;
    const Plan *p = PyCapsule_GetPointer(capsule, PLAN_NAME);
    PyObject *seq = p ? PySequence_Fast(objects, "objects must be a sequence") : NULL;
    if (seq == NULL)
        return NULL;
    Out o = {.plan = p, .namespace = namespace};
    PyObject *result = NULL;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
    if (reserve(&o, (size_t)n * 512) < 0)   /* about an object's JSON each: few reallocs */
        goto done;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *obj = PySequence_Fast_GET_ITEM(seq, i);
        if (i && put(&o, ",", 1) < 0)
            goto done;
        size_t start = o.len;
        int rc = put_object(&o, obj, ROLE_OBJECT);
        if (rc == UNEXPRESSED) {        /* what it wrote goes: the fallback writes the whole object */
            o.len = start;
            PyObject *json = PyObject_CallOneArg(fallback, obj);
            if (json == NULL)
                goto done;
            rc = PyBytes_Check(json) ? put(&o, PyBytes_AS_STRING(json), (size_t)PyBytes_GET_SIZE(json))
                                     : fail(PyExc_TypeError, "fallback() must return bytes");
            Py_DECREF(json);
        }
        if (rc != OK)
            goto done;
    }
    result = PyBytes_FromStringAndSize(o.p ? o.p : "", (Py_ssize_t)o.len);
done:
    free(o.p);
    Py_XDECREF(o.last_ns_json);
    Py_DECREF(seq);
    return result;
}

static PyMethodDef methods[] = {
    {"plan", plan, METH_VARARGS, "plan(table, escape) -> the compiled plan"},
    {"encode", encode, METH_VARARGS, "encode(plan, objects, namespace, fallback) -> the objects' JSON, comma-separated"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_objjson", NULL, -1, methods, NULL, NULL, NULL, NULL};

PyMODINIT_FUNC PyInit__objjson(void)
{
    return PyModule_Create(&module);
}
