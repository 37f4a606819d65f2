/* The rows of `ipcwatch list`'s tables (the compiled helper `_tables`, which _tables.c describes): each text's
 * terminal cells, each column's widest, and the rows padded, aligned and joined into one str. */
#include "_tables.h"

#include <string.h>

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

PyObject *tables_widths(PyObject *Py_UNUSED(self), PyObject *args)
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

PyObject *tables_rows(PyObject *Py_UNUSED(self), PyObject *args)
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

