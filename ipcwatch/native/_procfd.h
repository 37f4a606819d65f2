/* What the source files of the _procfd extension share (see _procfd.c for its contract): the opaque lists the
 * fd walk (_procfd.c), the maps query (_procfd_maps.c) and the per-process read (_procfd_process.c) fill without the
 * GIL, and each file's entry points. Include after <Python.h>.
 */
#ifndef IPCWATCH_PROCFD_H
#define IPCWATCH_PROCFD_H

typedef struct FdList FdList;    /* _procfd.c: the entries of any number of fd directories */
typedef struct MapList MapList;  /* _procfd_maps.c: shared mappings of any number of processes */
typedef struct Store Store;      /* _procfd_process.c: what the reads of any number of processes produced */

FdList *procfd_fd_list(void);
void procfd_fd_list_free(FdList *list);
int procfd_fd_collect(FdList *list, int dir_fd, int info_dir_fd, const unsigned long long *devs, Py_ssize_t n_devs,
                      size_t *first);
PyObject *procfd_fd_tuples(const FdList *list, size_t first, size_t end);
size_t procfd_fd_count(const FdList *list);

MapList *procfd_map_list(void);
void procfd_map_list_free(MapList *list);
int procfd_map_collect(MapList *list, int maps_fd, size_t *first, int *sysv);
PyObject *procfd_map_tuples(const MapList *list, size_t first, size_t end);
size_t procfd_map_count(const MapList *list);

Store *procfd_store(const unsigned long long *devs, Py_ssize_t n_devs, int maps_mode, int read_anon, int read_waits);
void procfd_store_free(Store *store);
size_t procfd_store_count(const Store *store);
int procfd_read_dir(Store *store, int dir_fd, long long pid);
PyObject *procfd_proc_tuple(const Store *store, size_t i);
int procfd_collect_devs(PyObject *file_devs, unsigned long long **out, Py_ssize_t *count);

/* The module's functions, one file each. */
PyObject *procfd_pipe_fills(PyObject *self, PyObject *args);      /* _procfd_pipe.c */
PyObject *procfd_shared_maps(PyObject *self, PyObject *args);     /* _procfd_maps.c */
PyObject *procfd_read_processes(PyObject *self, PyObject *args);  /* _procfd_batch.c */
PyObject *procfd_ns_keys(PyObject *self, PyObject *args);         /* _procfd_batch.c */
PyObject *procfd_fd_table(PyObject *self, PyObject *args);        /* _procfd_process.c */

#endif
