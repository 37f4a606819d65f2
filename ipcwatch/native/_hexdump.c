/* Canonical hexdump (`hexdump -C`) formatting of byte buffers, streamable in windows, with the GIL released.
 *
 * format(data, offset=0, *, verbose=False, prev_line=None, squeezed=False, final=True) -> (bytes, squeezed)
 *     Lines for data[16*i : 16*i + 16] labelled offset + 16*i. A full line equal to the line before it (prev_line
 *     for the first one) is squeezed: the first of a run prints "*", the rest nothing, unless verbose. `squeezed`
 *     says whether the line before this window was itself squeezed; the returned flag is the state to pass with
 *     the next window (and prev_line = the window's last 16 bytes). With final, a short last line and the end
 *     offset line follow (nothing at all when the end offset is 0); without it, len(data) must be a multiple of 16.
 * format_line(data, offset, start=0) -> bytes
 *     One line (no newline) for data[start : start + 16] labelled offset: the fast path of the dashboard view.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

#define LINE_BYTES 16
#define MAX_OFFSET_DIGITS 16
/* offset, "  ", 16 x "hh " and the middle space (49), " |", 16 ascii, "|", "\n"; 4 bytes of slack for the
 * overlapping 4-byte stores. */
#define LINE_CAP (MAX_OFFSET_DIGITS + 2 + 49 + 2 + LINE_BYTES + 2)
#define SLACK 4

static const char HEX_DIGITS[] = "0123456789abcdef";
static char hex_pair[256][2];    /* "hh" */
static char hex_cell[256][4];    /* "hh  ": the next store overwrites the second space */
static char printable[256];      /* the byte itself when 0x20..0x7e, else '.' (the %_p conversion in the C locale) */

static void init_tables(void)
{
    for (int b = 0; b < 256; b++) {
        hex_pair[b][0] = hex_cell[b][0] = HEX_DIGITS[b >> 4];
        hex_pair[b][1] = hex_cell[b][1] = HEX_DIGITS[b & 15];
        hex_cell[b][2] = hex_cell[b][3] = ' ';
        printable[b] = (b >= 0x20 && b < 0x7f) ? (char)b : '.';
    }
}

static inline int offset_digits(uint64_t offset)
{
    int digits = 8;
    while (digits < MAX_OFFSET_DIGITS && (offset >> (4 * digits)) != 0)
        digits++;
    return digits;
}

static inline char *put_offset(char *p, uint64_t offset)
{
    if (offset <= 0xffffffffu) {
        memcpy(p, hex_pair[(offset >> 24) & 0xff], 2);
        memcpy(p + 2, hex_pair[(offset >> 16) & 0xff], 2);
        memcpy(p + 4, hex_pair[(offset >> 8) & 0xff], 2);
        memcpy(p + 6, hex_pair[offset & 0xff], 2);
        return p + 8;
    }
    int digits = offset_digits(offset);
    for (int i = digits - 1; i >= 0; i--) {
        p[i] = HEX_DIGITS[offset & 15];
        offset >>= 4;
    }
    return p + digits;
}

/* The 16 bytes as the ASCII column: printable ones as themselves, the rest as dots. */
static inline void put_printable16(char *p, const unsigned char *b)
{
#ifdef __SSE2__
    __m128i v = _mm_loadu_si128((const __m128i *)b);
    __m128i ok = _mm_and_si128(_mm_cmpgt_epi8(v, _mm_set1_epi8(0x1f)), _mm_cmplt_epi8(v, _mm_set1_epi8(0x7f)));
    __m128i shown = _mm_or_si128(_mm_and_si128(ok, v), _mm_andnot_si128(ok, _mm_set1_epi8('.')));
    _mm_storeu_si128((__m128i *)p, shown);
#else
    for (int j = 0; j < 16; j++)
        p[j] = printable[b[j]];
#endif
}

/* One line of n (1..16) bytes without the newline; returns the end. Writes up to SLACK bytes past the end. */
static inline char *put_line(char *p, const unsigned char *b, Py_ssize_t n, uint64_t offset)
{
    p = put_offset(p, offset);
    p[0] = p[1] = ' ';
    p += 2;
    if (n == LINE_BYTES) {
        for (int j = 0; j < 8; j++)
            memcpy(p + 3 * j, hex_cell[b[j]], 4);
        for (int j = 8; j < 16; j++)
            memcpy(p + 3 * j + 1, hex_cell[b[j]], 4);
        p += 49;
        p[0] = ' ';
        p[1] = '|';
        put_printable16(p + 2, b);
        p[18] = '|';
        return p + 19;
    }
    memset(p, ' ', 51);
    for (Py_ssize_t j = 0; j < n; j++)
        memcpy(p + 3 * j + (j >= 8), hex_pair[b[j]], 2);
    p[50] = '|';
    p += 51;
    for (Py_ssize_t j = 0; j < n; j++)
        p[j] = printable[b[j]];
    p[n] = '|';
    return p + n + 1;
}

typedef struct {
    const unsigned char *data;
    Py_ssize_t length;
    uint64_t offset;
    const unsigned char *prev; /* NULL: no line before this window */
    int verbose, squeezed, final;
} job_t;

static char *run_job(job_t *job, char *out)
{
    const unsigned char *data = job->data, *prev = job->prev;
    Py_ssize_t full = job->length / LINE_BYTES, rest = job->length % LINE_BYTES;
    uint64_t offset = job->offset;
    int squeezed = job->squeezed;
    for (Py_ssize_t i = 0; i < full; i++, offset += LINE_BYTES) {
        const unsigned char *line = data + i * LINE_BYTES;
        if (!job->verbose && prev != NULL && memcmp(line, prev, LINE_BYTES) == 0) {
            if (!squeezed) {
                *out++ = '*';
                *out++ = '\n';
                squeezed = 1;
            }
        } else {
            out = put_line(out, line, LINE_BYTES, offset);
            *out++ = '\n';
            squeezed = 0;
        }
        prev = line;
    }
    job->squeezed = squeezed;
    if (!job->final)
        return out;
    if (rest) {
        out = put_line(out, data + full * LINE_BYTES, rest, offset);
        *out++ = '\n';
        offset += (uint64_t)rest;
    }
    if (offset != 0) {
        out = put_offset(out, offset);
        *out++ = '\n';
    }
    return out;
}

static int parse_offset(PyObject *obj, Py_ssize_t length, uint64_t *offset)
{
    unsigned long long value = PyLong_AsUnsignedLongLong(obj);
    if (value == (unsigned long long)-1 && PyErr_Occurred()) {
        if (PyErr_ExceptionMatches(PyExc_OverflowError)) {
            PyErr_Clear();
            PyErr_SetString(PyExc_ValueError, "offset must be between 0 and 2**64 - 1");
        }
        return -1;
    }
    if (value > UINT64_MAX - (uint64_t)length) {
        PyErr_SetString(PyExc_ValueError, "offset + len(data) must be below 2**64");
        return -1;
    }
    *offset = value;
    return 0;
}

static PyObject *hexdump_format(PyObject *Py_UNUSED(module), PyObject *args, PyObject *kwargs)
{
    static char *keywords[] = {"data", "offset", "verbose", "prev_line", "squeezed", "final", NULL};
    Py_buffer data, prev = {0};
    PyObject *offset_obj = NULL, *prev_obj = Py_None, *result = NULL, *out = NULL;
    int verbose = 0, squeezed = 0, final = 1;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "y*|O$pOpp:format", keywords, &data, &offset_obj, &verbose,
                                     &prev_obj, &squeezed, &final))
        return NULL;
    job_t job = {.data = data.buf, .length = data.len, .verbose = verbose, .squeezed = squeezed, .final = final};
    if (offset_obj != NULL && parse_offset(offset_obj, data.len, &job.offset) < 0)
        goto done;
    if (prev_obj != Py_None) {
        if (PyObject_GetBuffer(prev_obj, &prev, PyBUF_SIMPLE) < 0)
            goto done;
        if (prev.len != LINE_BYTES) {
            PyErr_SetString(PyExc_ValueError, "prev_line must be 16 bytes or None");
            goto done;
        }
        job.prev = prev.buf;
    }
    if (!final && data.len % LINE_BYTES) {
        PyErr_SetString(PyExc_ValueError, "a window that is not final must be a multiple of 16 bytes");
        goto done;
    }
    Py_ssize_t lines = data.len / LINE_BYTES + 2;
    if (lines > (PY_SSIZE_T_MAX - SLACK) / LINE_CAP) {
        PyErr_NoMemory();
        goto done;
    }
    out = PyBytes_FromStringAndSize(NULL, lines * LINE_CAP + SLACK);
    if (out == NULL)
        goto done;
    char *start = PyBytes_AS_STRING(out), *end;
    Py_BEGIN_ALLOW_THREADS
    end = run_job(&job, start);
    Py_END_ALLOW_THREADS
    if (_PyBytes_Resize(&out, end - start) < 0)
        goto done;
    result = Py_BuildValue("(NO)", out, job.squeezed ? Py_True : Py_False);
    out = NULL;
done:
    Py_XDECREF(out);
    if (prev.obj != NULL)
        PyBuffer_Release(&prev);
    PyBuffer_Release(&data);
    return result;
}

static PyObject *hexdump_format_line(PyObject *Py_UNUSED(module), PyObject *args, PyObject *kwargs)
{
    static char *keywords[] = {"data", "offset", "start", NULL};
    Py_buffer data;
    PyObject *offset_obj, *result = NULL;
    Py_ssize_t start = 0;
    uint64_t offset;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "y*O|n:format_line", keywords, &data, &offset_obj, &start))
        return NULL;
    if (start < 0 || start >= data.len) {
        PyErr_SetString(PyExc_ValueError, "start must index a byte of data");
        goto done;
    }
    Py_ssize_t n = data.len - start < LINE_BYTES ? data.len - start : LINE_BYTES;
    if (parse_offset(offset_obj, n, &offset) < 0)
        goto done;
    char line[LINE_CAP + SLACK];
    char *end = put_line(line, (const unsigned char *)data.buf + start, n, offset);
    result = PyBytes_FromStringAndSize(line, end - line);
done:
    PyBuffer_Release(&data);
    return result;
}

static PyMethodDef methods[] = {
    {"format", (PyCFunction)(void (*)(void))hexdump_format, METH_VARARGS | METH_KEYWORDS,
     "format(data, offset=0, *, verbose=False, prev_line=None, squeezed=False, final=True) -> (bytes, squeezed)\n"
     "Canonical hexdump lines of one window of a stream."},
    {"format_line", (PyCFunction)(void (*)(void))hexdump_format_line, METH_VARARGS | METH_KEYWORDS,
     "format_line(data, offset, start=0) -> bytes\nOne canonical line (no newline) for data[start:start + 16]."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_hexdump", "Canonical hexdump formatting (the compiled helper).", -1, methods, NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__hexdump(void)
{
    init_tables();
    return PyModule_Create(&module);
}
