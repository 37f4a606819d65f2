/* A compiled __init__ for the scan's slotted records (the compiled helper; ipcwatch/native/model_init.py loads it,
 * and the class's own hand-written __init__ is the pure-Python twin).
 *
 * init(cls, qualname, names, defaults) -> wrapper descriptor
 *     An __init__ for `cls` whose parameters are `names` (the first is self's: the others are given positionally or
 *     by keyword, in that order; the last len(defaults) take `defaults` when not given), storing each argument in
 *     the slot of the same name, through the
 *     offset its member descriptor (read from the class here, once) names. Setting the result as cls.__init__ makes
 *     it the class's tp_init (the wrapper descriptor is the kind CPython's slot update recognises), so `cls(...)`
 *     calls it with no Python frame. Wrong calls raise the TypeError a Python function of that signature raises,
 *     with its message (`qualname` is the function's __qualname__). Every argument is checked before any slot is
 *     written; a re-init releases each slot's previous value after the new ones are stored.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <structmember.h>

#define MAX_FIELDS 64
#define MAX_CLASSES 8

typedef struct {
    PyObject *cls;        /* kept for life: the descriptor's class */
    PyObject *qualname;   /* "IpcObject.__init__" */
    PyObject *names;      /* tuple of str: self's name, then the slots' */
    PyObject *defaults;   /* tuple: the values of the last len(defaults) names */
    Py_ssize_t count;     /* len(names) - 1: the slots */
    Py_ssize_t offsets[MAX_FIELDS];
} Layout;

static Layout *layouts[MAX_CLASSES];

/* "'a'", "'a' and 'b'", "'a', 'b', and 'c'": as CPython lists missing arguments. */
static PyObject *name_list(PyObject *missing)
{
    Py_ssize_t n = PyList_GET_SIZE(missing);
    if (n == 1)
        return PyUnicode_FromFormat("'%U'", PyList_GET_ITEM(missing, 0));
    if (n == 2)
        return PyUnicode_FromFormat("'%U' and '%U'", PyList_GET_ITEM(missing, 0), PyList_GET_ITEM(missing, 1));
    PyObject *out = PyUnicode_FromString("");
    for (Py_ssize_t i = 0; out != NULL && i < n; i++) {
        const char *sep = i == 0 ? "" : (i == n - 1 ? ", and " : ", ");
        PyObject *next = PyUnicode_FromFormat("%U%s'%U'", out, sep, PyList_GET_ITEM(missing, i));
        Py_SETREF(out, next);
    }
    return out;
}

static int missing_arguments(const Layout *layout, PyObject **values, Py_ssize_t required)
{
    PyObject *missing = PyList_New(0);
    if (missing == NULL)
        return -1;
    for (Py_ssize_t i = 0; i < required; i++)
        if (values[i] == NULL && PyList_Append(missing, PyTuple_GET_ITEM(layout->names, i + 1)) < 0) {
            Py_DECREF(missing);
            return -1;
        }
    PyObject *listed = name_list(missing);
    if (listed != NULL) {
        Py_ssize_t n = PyList_GET_SIZE(missing);
        PyErr_Format(PyExc_TypeError, "%U() missing %zd required positional argument%s: %U", layout->qualname, n,
                     n == 1 ? "" : "s", listed);
        Py_DECREF(listed);
    }
    Py_DECREF(missing);
    return -1;
}

static void too_many_positional(const Layout *layout, Py_ssize_t given)
{
    Py_ssize_t most = layout->count + 1, defaults = PyTuple_GET_SIZE(layout->defaults);  /* + 1: self */
    PyObject *sig = defaults ? PyUnicode_FromFormat("from %zd to %zd", most - defaults, most)
                             : PyUnicode_FromFormat("%zd", most);
    if (sig == NULL)
        return;
    PyErr_Format(PyExc_TypeError, "%U() takes %U positional argument%s but %zd %s given", layout->qualname, sig,
                 (defaults || most != 1) ? "s" : "", given + 1, given + 1 == 1 ? "was" : "were");
    Py_DECREF(sig);
}

/* The index in names of the parameter `key` names (0: self's), -1 for none (-2 with an error set). */
static Py_ssize_t argument_index(const Layout *layout, PyObject *key)
{
    for (Py_ssize_t i = 0; i <= layout->count; i++)
        if (PyTuple_GET_ITEM(layout->names, i) == key)
            return i;
    if (!PyUnicode_Check(key)) {
        PyErr_Format(PyExc_TypeError, "%U() keywords must be strings", layout->qualname);
        return -2;
    }
    for (Py_ssize_t i = 0; i <= layout->count; i++) {
        int equal = PyUnicode_Compare(PyTuple_GET_ITEM(layout->names, i), key);
        if (equal == -1 && PyErr_Occurred())
            return -2;
        if (equal == 0)
            return i;
    }
    return -1;
}

/* The arguments into values[] (borrowed), checked as CPython checks a call: keywords, then the positional count,
 * then what is missing; then the defaults. */
static int bind(const Layout *layout, PyObject *args, PyObject *kwds, PyObject **values)
{
    Py_ssize_t given = PyTuple_GET_SIZE(args), count = layout->count;
    for (Py_ssize_t i = 0; i < count; i++)
        values[i] = i < given ? PyTuple_GET_ITEM(args, i) : NULL;
    if (kwds != NULL) {
        PyObject *key, *value;
        Py_ssize_t pos = 0;
        while (PyDict_Next(kwds, &pos, &key, &value)) {
            Py_ssize_t i = argument_index(layout, key);
            if (i == -2)
                return -1;
            if (i == -1) {
                PyErr_Format(PyExc_TypeError, "%U() got an unexpected keyword argument '%S'", layout->qualname, key);
                return -1;
            }
            if (i == 0 || values[i - 1] != NULL) {  /* self is always given */
                PyErr_Format(PyExc_TypeError, "%U() got multiple values for argument '%S'", layout->qualname, key);
                return -1;
            }
            values[i - 1] = value;
        }
    }
    if (given > count) {
        too_many_positional(layout, given);
        return -1;
    }
    Py_ssize_t required = count - PyTuple_GET_SIZE(layout->defaults);
    for (Py_ssize_t i = given; i < required; i++)
        if (values[i] == NULL)
            return missing_arguments(layout, values, required);
    for (Py_ssize_t i = required; i < count; i++)
        if (values[i] == NULL)
            values[i] = PyTuple_GET_ITEM(layout->defaults, i - required);
    return 0;
}

static int init_with(const Layout *layout, PyObject *self, PyObject *args, PyObject *kwds)
{
    PyObject *values[MAX_FIELDS], *previous[MAX_FIELDS];
    if (bind(layout, args, kwds, values) < 0)
        return -1;
    Py_ssize_t count = layout->count;
    char *base = (char *)self;
    for (Py_ssize_t i = 0; i < count; i++) {
        PyObject **slot = (PyObject **)(base + layout->offsets[i]);
        previous[i] = *slot;
        Py_INCREF(values[i]);
        *slot = values[i];
    }
    for (Py_ssize_t i = 0; i < count; i++)  /* last: a value's finaliser may run any code, the layout's too */
        Py_XDECREF(previous[i]);
    return 0;
}

/* One tp_init per class (a tp_init is given no closure): each reads its own layout. */
#define INIT(k) \
    static int init_##k(PyObject *self, PyObject *args, PyObject *kwds) \
    { \
        return init_with(layouts[k], self, args, kwds); \
    }
INIT(0) INIT(1) INIT(2) INIT(3) INIT(4) INIT(5) INIT(6) INIT(7)
static initproc inits[MAX_CLASSES] = {init_0, init_1, init_2, init_3, init_4, init_5, init_6, init_7};

static void layout_free(Layout *layout)
{
    if (layout == NULL)
        return;
    Py_XDECREF(layout->cls);
    Py_XDECREF(layout->qualname);
    Py_XDECREF(layout->names);
    Py_XDECREF(layout->defaults);
    PyMem_Free(layout);
}

/* The slot's offset from its member descriptor in cls's own dict: an object slot (T_OBJECT_EX) that is writable. */
static Py_ssize_t slot_offset(PyTypeObject *cls, PyObject *name)
{
    PyObject *descr = PyDict_GetItemWithError(cls->tp_dict, name);
    if (descr == NULL || !Py_IS_TYPE(descr, &PyMemberDescr_Type) || PyDescr_TYPE(descr) != cls) {
        if (!PyErr_Occurred())
            PyErr_Format(PyExc_TypeError, "%R is not a slot of %s", name, cls->tp_name);
        return -1;
    }
    PyMemberDef *member = ((PyMemberDescrObject *)descr)->d_member;
    if (member->type != T_OBJECT_EX || (member->flags & READONLY) || member->offset <= 0) {
        PyErr_Format(PyExc_TypeError, "the slot %R of %s is not a writable object slot", name, cls->tp_name);
        return -1;
    }
    return member->offset;
}

static Layout *layout_new(PyTypeObject *cls, PyObject *qualname, PyObject *names, PyObject *defaults)
{
    Py_ssize_t count = PyTuple_GET_SIZE(names) - 1;
    if (count < 0 || count > MAX_FIELDS || PyTuple_GET_SIZE(defaults) > count) {
        PyErr_SetString(PyExc_ValueError, "no self, too many names, or more defaults than slots");
        return NULL;
    }
    Layout *layout = PyMem_Calloc(1, sizeof(Layout));
    if (layout == NULL)
        return (Layout *)PyErr_NoMemory();
    layout->count = count;
    for (Py_ssize_t i = 0; i <= count; i++)
        if (!PyUnicode_CheckExact(PyTuple_GET_ITEM(names, i))) {
            PyErr_SetString(PyExc_TypeError, "the names must be str");
            PyMem_Free(layout);
            return NULL;
        }
    for (Py_ssize_t i = 0; i < count; i++) {
        layout->offsets[i] = slot_offset(cls, PyTuple_GET_ITEM(names, i + 1));
        for (Py_ssize_t j = 0; j < i && layout->offsets[i] >= 0; j++)
            if (layout->offsets[j] == layout->offsets[i]) {
                PyErr_Format(PyExc_ValueError, "%R names a slot twice", names);
                layout->offsets[i] = -1;
            }
        if (layout->offsets[i] < 0) {
            PyMem_Free(layout);
            return NULL;
        }
    }
    layout->cls = Py_NewRef((PyObject *)cls);
    layout->qualname = Py_NewRef(qualname);
    layout->names = Py_NewRef(names);
    layout->defaults = Py_NewRef(defaults);
    return layout;
}

static PyObject *init(PyObject *module, PyObject *args)
{
    (void)module;
    PyTypeObject *cls;
    PyObject *qualname, *names, *defaults;
    if (!PyArg_ParseTuple(args, "O!UO!O!:init", &PyType_Type, &cls, &qualname, &PyTuple_Type, &names, &PyTuple_Type,
                          &defaults))
        return NULL;
    PyObject *object_init = PyObject_GetAttrString((PyObject *)&PyBaseObject_Type, "__init__");
    if (object_init == NULL)
        return NULL;
    if (!Py_IS_TYPE(object_init, &PyWrapperDescr_Type)) {
        Py_DECREF(object_init);
        PyErr_SetString(PyExc_RuntimeError, "object.__init__ is not a slot wrapper");
        return NULL;
    }
    struct wrapperbase *slot = ((PyWrapperDescrObject *)object_init)->d_base;  /* static: outlives the reference */
    Py_DECREF(object_init);
    int k = 0;  /* the class's own place again (a second init of it), else the first free one */
    while (k < MAX_CLASSES && layouts[k] != NULL && layouts[k]->cls != (PyObject *)cls)
        k++;
    if (k == MAX_CLASSES) {
        PyErr_SetString(PyExc_RuntimeError, "too many classes");
        return NULL;
    }
    Layout *layout = layout_new(cls, qualname, names, defaults);
    if (layout == NULL)
        return NULL;
    PyObject *descr = PyDescr_NewWrapper(cls, slot, (void *)inits[k]);
    if (descr == NULL) {
        layout_free(layout);
        return NULL;
    }
    Layout *old = layouts[k];
    layouts[k] = layout;
    layout_free(old);
    return descr;
}

static PyMethodDef methods[] = {
    {"init", init, METH_VARARGS, "init(cls, qualname, names, defaults): a compiled __init__ for a slotted class."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_model", "A compiled __init__ for slotted records (the compiled helper).", -1, methods,
    NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__model(void)
{
    return PyModule_Create(&module);
}
