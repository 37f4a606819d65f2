/* What the files of the compiled table builder `_tables` share (_tables.c says what it does): a column as the
 * builder reads it, the interned names and constant cells, and the functions each file gives the others. */
#ifndef IPCWATCH_TABLES_H
#define IPCWATCH_TABLES_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>

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

/* The attribute names the ops read and the constant cells, interned at import (_tables.c). */
extern PyObject *s_info, *s_holders, *s_waiters, *s_stale, *s_stale_reason, *s_name, *s_key, *s_mode, *s_peer,
    *s_peer_holders, *s_backlog, *s_value;
extern PyObject *c_empty, *c_unknown, *c_dash, *c_stale, *c_wait, *c_nobody, *c_pipe, *c_socket, *c_more;

/* _tables.c */
PyObject *tables_attr(Column *c, PyObject *obj, PyObject *name);

/* _tables_text.c: the text of a cell */
int tables_plain(PyObject *s);
PyObject *tables_escaped(PyObject *s, PyObject *escape);
char *tables_digits(char *end, long long v);
PyObject *tables_ascii(const char *start, const char *end);
PyObject *tables_wrap(const char *before, Py_ssize_t nb, PyObject *text, const char *after, Py_ssize_t na);
PyObject *tables_concat3(PyObject *a, PyObject *b, PyObject *c);
int tables_as_ll(PyObject *v, long long *out);
PyObject *tables_human_size(long long n);
PyObject *tables_end_text(PyObject *holders, Py_UCS4 want, PyObject *none, PyObject *escape);
PyObject *tables_ends(PyObject *left, Py_UCS4 left_mode, PyObject *right, Py_UCS4 right_mode, PyObject *arrow,
               PyObject *escape);
PyObject *tables_name_cell(Column *c, PyObject *obj, PyObject *info, PyObject *types, PyObject *escape);
PyObject *tables_queue_cell(Column *c, PyObject *info, PyObject *field);
PyObject *tables_sem_values(Column *c, PyObject *sems);

/* _tables_rows.c: the rows */
PyObject *tables_widths(PyObject *self, PyObject *args);
PyObject *tables_rows(PyObject *self, PyObject *args);

#endif
