/* Placeholder: replaced by the real canonical hexdump formatter. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_hexdump", NULL, -1, NULL};

PyMODINIT_FUNC PyInit__hexdump(void) { return PyModule_Create(&module); }
