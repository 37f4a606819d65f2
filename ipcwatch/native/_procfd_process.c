/* The per-process read of read_processes (see _procfd.c for its contract; the walk is _procfd_batch.c's):
 * everything the /proc pass reads of one process through its open /proc/PID directory fd, kept in C arrays without
 * the GIL until the caller converts the records to Python objects; and fd_table, the walk of one fd directory.
 */
#define _GNU_SOURCE
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include "_procfd.h"
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "_grow.h"

#define STAT_CAP 8192
#define CMDLINE_CAP (64 * 1024)
#define TEXT_CAP (64 << 20)             /* the maps text, when PROCMAP_QUERY is refused */
#define SYSCALL_CAP 512                 /* one read each, as the sampling's Python reads them */
#define WCHAN_CAP 256
#define SCHED_CAP (64 * 1024)

enum { MAPS_NONE, MAPS_QUERY, MAPS_FALLBACK, MAPS_TEXT };  /* what to read of maps; FALLBACK: QUERY, else TEXT */
enum { GOT_NONE, GOT_LIST, GOT_TEXT, GOT_ERRNO };          /* what was read */


typedef struct {
    long long pid;
    int stat_err;                       /* 0, or the errno reading stat or fstat (nothing else is read then) */
    unsigned long long uid;
    size_t stat_off, stat_len, cmd_off, cmd_len;
    int fds_err;                        /* 0: entries [fd_first, fd_end) of the fd list */
    size_t fd_first, fd_end;
    int maps_got, maps_err;
    size_t map_first, map_end, text_off, text_len;
    int ipc_got;                        /* 0: not read (no SysV mapping); 1: ipc_ino; 2: ipc_err */
    int ipc_err;
    unsigned long long ipc_ino;
    int waits_got;                      /* read_waits: 1 when task's link count was read (threads + 2) */
    unsigned long long task_nlink;
    int sc_err;                         /* -1: syscall not read; 0: [sc_off, +sc_len); else its errno */
    size_t sc_off, sc_len;
    int wchan_err, sched_err;           /* the same for wchan and sched */
    size_t wchan_off, wchan_len, sched_off, sched_len;
} ProcRead;

/* What the reads of any number of processes produced. */
typedef struct Store {
    FdList *fds;
    MapList *maps;
    char *bytes;                        /* stat, cmdline and maps texts */
    size_t used, cap;
    ProcRead *procs;
    size_t n_procs, cap_procs;
    const unsigned long long *devs;
    Py_ssize_t n_devs;
    int maps_mode, read_anon, read_waits;
} Store;

Store *procfd_store(const unsigned long long *devs, Py_ssize_t n_devs, int maps_mode, int read_anon, int read_waits)
{
    Store *s = calloc(1, sizeof(Store));
    if (s == NULL)
        return NULL;
    s->fds = procfd_fd_list();
    s->maps = procfd_map_list();
    s->devs = devs;
    s->n_devs = n_devs;
    s->maps_mode = maps_mode;
    s->read_anon = read_anon;
    s->read_waits = read_waits;
    if (s->fds == NULL || s->maps == NULL) {
        procfd_store_free(s);
        return NULL;
    }
    return s;
}

size_t procfd_store_count(const Store *store)
{
    return store->n_procs;
}

void procfd_store_free(Store *store)
{
    if (store != NULL) {
        procfd_fd_list_free(store->fds);
        procfd_map_list_free(store->maps);
        free(store->bytes);
        free(store->procs);
        free(store);
    }
}

/* Read name under dir_fd into the byte store, up to cap bytes (once, or until EOF when `all`): 0 or an errno. */
static int read_into(Store *s, int dir_fd, const char *name, size_t cap, int all, size_t *off, size_t *len)
{
    int fd = openat(dir_fd, name, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return errno;
    int err = 0;
    *off = s->used;
    *len = 0;
    do {
        size_t chunk = all ? 65536 : cap;
        if (*len + chunk > cap)
            chunk = cap - *len;
        if (chunk == 0)
            break;
        if (grow((void **)&s->bytes, &s->cap, s->used + chunk, 1) < 0) {
            err = ENOMEM;
            break;
        }
        ssize_t n = read(fd, s->bytes + s->used, chunk);
        if (n < 0) {
            err = errno;
            break;
        }
        if (n == 0)
            break;
        s->used += (size_t)n;
        *len += (size_t)n;
    } while (all);
    close(fd);
    if (err != 0)
        s->used = *off;
    return err;
}

/* Keep, of the maps text just read, only the lines that name a SysV segment or a /dev/shm file (what the pass
 * looks for), joined by newlines: the text of every process is held until the batch ends, never all of it. */
static void keep_shared_lines(Store *s, ProcRead *p)
{
    char *text = s->bytes + p->text_off, *end = text + p->text_len, *out = text;
    for (char *line = text; line < end;) {
        char *nl = memchr(line, '\n', (size_t)(end - line));
        char *stop = nl != NULL ? nl : end;
        size_t len = (size_t)(stop - line);
        if (memmem(line, len, "/SYSV", 5) != NULL || memmem(line, len, "/dev/shm/", 9) != NULL) {
            if (out != text)
                *out++ = '\n';
            memmove(out, line, len);
            out += len;
        }
        line = stop + 1;
    }
    p->text_len = (size_t)(out - text);
    s->used = p->text_off + p->text_len;
}

/* The maps of one process (the store's maps_mode) into the record. Without the GIL; 0 or ENOMEM. */
static int read_maps(Store *s, int dir_fd, ProcRead *p)
{
    int sysv = 0;
    if (s->maps_mode == MAPS_QUERY || s->maps_mode == MAPS_FALLBACK) {
        int fd = openat(dir_fd, "maps", O_RDONLY | O_CLOEXEC);
        p->maps_err = fd < 0 ? errno : procfd_map_collect(s->maps, fd, &p->map_first, &sysv);
        if (fd >= 0)
            close(fd);
        if (p->maps_err == ENOMEM)
            return ENOMEM;
        p->maps_got = p->maps_err ? GOT_ERRNO : GOT_LIST;
        p->map_end = procfd_map_count(s->maps);
        if (s->maps_mode == MAPS_FALLBACK && (p->maps_err == ENOTTY || p->maps_err == EINVAL))
            s->maps_mode = MAPS_TEXT;   /* a kernel without PROCMAP_QUERY: the text, from now on */
    }
    if (s->maps_mode == MAPS_TEXT) {
        p->maps_err = read_into(s, dir_fd, "maps", TEXT_CAP, 1, &p->text_off, &p->text_len);
        if (p->maps_err == ENOMEM)
            return ENOMEM;
        p->maps_got = p->maps_err ? GOT_ERRNO : GOT_TEXT;
        if (!p->maps_err)
            keep_shared_lines(s, p);
        sysv = !p->maps_err && memmem(s->bytes + p->text_off, p->text_len, "/SYSV", 5) != NULL;
    }
    if (sysv) {                         /* a SysV shmid is only unique inside its IPC namespace */
        struct stat st;
        p->ipc_got = fstatat(dir_fd, "ns/ipc", &st, 0) == 0 ? 1 : 2;
        p->ipc_err = p->ipc_got == 2 ? errno : 0;
        p->ipc_ino = p->ipc_got == 1 ? (unsigned long long)st.st_ino : 0;
    }
    return 0;
}

/* The state letter of a stat text (the field after the comm's last ')'), or 0. */
static char stat_state(const char *text, size_t len)
{
    const char *close = NULL;
    for (const char *c = text; c < text + len; c++)
        if (*c == ')')
            close = c;
    return close != NULL && close + 2 < text + len && close[1] == ' ' ? close[2] : 0;
}

/* What the blocked-thread sampling reads of a process, read here, beside the rest and without the GIL: the link
 * count of task (threads + 2), and for a single-threaded process asleep (S or D) its syscall file, then unless
 * it is running its wchan and sched. 0 or ENOMEM. */
static int read_waits(Store *s, int dir_fd, ProcRead *p)
{
    struct stat st;
    p->sc_err = p->wchan_err = p->sched_err = -1;
    if (fstatat(dir_fd, "task", &st, 0) != 0)
        return 0;
    p->waits_got = 1;
    p->task_nlink = (unsigned long long)st.st_nlink;
    char state = stat_state(s->bytes + p->stat_off, p->stat_len);
    if (st.st_nlink > 3 || (state != 'S' && state != 'D'))
        return 0;
    p->sc_err = read_into(s, dir_fd, "syscall", SYSCALL_CAP, 0, &p->sc_off, &p->sc_len);
    if (p->sc_err != 0 || (p->sc_len >= 7 && memcmp(s->bytes + p->sc_off, "running", 7) == 0))
        return p->sc_err == ENOMEM ? ENOMEM : 0;
    p->wchan_err = read_into(s, dir_fd, "wchan", WCHAN_CAP, 0, &p->wchan_off, &p->wchan_len);
    p->sched_err = read_into(s, dir_fd, "sched", SCHED_CAP, 0, &p->sched_off, &p->sched_len);
    return p->wchan_err == ENOMEM || p->sched_err == ENOMEM ? ENOMEM : 0;
}

/* Everything of one process through its open /proc/PID directory fd, as a new record of the store. Without the
 * GIL; 0, or ENOMEM (the record is then not added). */
int procfd_read_dir(Store *s, int dir_fd, long long pid)
{
    if (grow((void **)&s->procs, &s->cap_procs, s->n_procs + 1, sizeof(ProcRead)) < 0)
        return ENOMEM;
    ProcRead *p = &s->procs[s->n_procs];
    memset(p, 0, sizeof *p);
    p->pid = pid;
    struct stat st;
    p->stat_err = read_into(s, dir_fd, "stat", STAT_CAP, 0, &p->stat_off, &p->stat_len);
    if (p->stat_err == 0 && fstat(dir_fd, &st) != 0)
        p->stat_err = errno;
    if (p->stat_err == ENOMEM)
        return ENOMEM;
    if (p->stat_err != 0) {
        s->n_procs++;
        return 0;
    }
    p->uid = (unsigned long long)st.st_uid;
    int err = read_into(s, dir_fd, "cmdline", CMDLINE_CAP, 0, &p->cmd_off, &p->cmd_len);
    if (err == ENOMEM || (s->read_waits && read_waits(s, dir_fd, p) != 0))
        return ENOMEM;
    int fd_dir = openat(dir_fd, "fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    p->fds_err = fd_dir < 0 ? errno
                            : procfd_fd_collect(s->fds, fd_dir, s->read_anon ? dir_fd : -1, s->devs, s->n_devs,
                                                &p->fd_first);
    if (fd_dir >= 0)
        close(fd_dir);
    if (p->fds_err == ENOMEM || read_maps(s, dir_fd, p) != 0)
        return ENOMEM;
    p->fd_end = procfd_fd_count(s->fds);
    s->n_procs++;
    return 0;
}

static PyObject *maps_value(const Store *s, const ProcRead *p)
{
    switch (p->maps_got) {
    case GOT_LIST: return procfd_map_tuples(s->maps, p->map_first, p->map_end);
    case GOT_TEXT: return PyBytes_FromStringAndSize(s->bytes + p->text_off, (Py_ssize_t)p->text_len);
    case GOT_ERRNO: return PyLong_FromLong(p->maps_err);
    default: return Py_NewRef(Py_None);
    }
}

/* One file read_waits read: None (not read), its bytes, or its errno. */
static PyObject *read_value(const Store *s, int err, size_t off, size_t len)
{
    if (err < 0)
        return Py_NewRef(Py_None);
    return err ? PyLong_FromLong(err) : PyBytes_FromStringAndSize(s->bytes + off, (Py_ssize_t)len);
}

static PyObject *waits_value(const Store *s, const ProcRead *p)
{
    if (!p->waits_got)
        return Py_NewRef(Py_None);
    return Py_BuildValue("(KNNN)", p->task_nlink, read_value(s, p->sc_err, p->sc_off, p->sc_len),
                         read_value(s, p->wchan_err, p->wchan_off, p->wchan_len),
                         read_value(s, p->sched_err, p->sched_off, p->sched_len));
}

/* Record i as read_processes gives it (with the GIL); NULL with an exception set. */
PyObject *procfd_proc_tuple(const Store *s, size_t i)
{
    const ProcRead *p = &s->procs[i];
    if (p->stat_err != 0)
        return Py_BuildValue("(Li)", p->pid, p->stat_err);
    PyObject *fds = p->fds_err ? PyLong_FromLong(p->fds_err) : procfd_fd_tuples(s->fds, p->fd_first, p->fd_end);
    PyObject *maps = fds != NULL ? maps_value(s, p) : NULL;
    PyObject *ipc = p->ipc_got == 1 ? PyLong_FromUnsignedLongLong(p->ipc_ino)
                    : p->ipc_got == 2 ? PyLong_FromLong(-(long)p->ipc_err) : Py_NewRef(Py_None);
    PyObject *waits = ipc != NULL ? waits_value(s, p) : NULL;
    if (fds == NULL || maps == NULL || ipc == NULL || waits == NULL) {
        Py_XDECREF(fds);
        Py_XDECREF(maps);
        Py_XDECREF(ipc);
        Py_XDECREF(waits);
        return NULL;
    }
    return Py_BuildValue("(Ly#Ky#NNNN)", p->pid, s->bytes + p->stat_off, (Py_ssize_t)p->stat_len, p->uid,
                         s->bytes + p->cmd_off, (Py_ssize_t)p->cmd_len, fds, maps, ipc, waits);
}

/* file_devs as a C array (PyMem); values that are not dev_t numbers can never match and are left out. */
int procfd_collect_devs(PyObject *file_devs, unsigned long long **out, Py_ssize_t *count)
{
    PyObject *seq = PySequence_Fast(file_devs, "file_devs must be an iterable of ints");
    if (seq == NULL)
        return -1;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
    unsigned long long *devs = PyMem_New(unsigned long long, n > 0 ? n : 1);
    if (devs == NULL) {
        Py_DECREF(seq);
        PyErr_NoMemory();
        return -1;
    }
    Py_ssize_t kept = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *item = PySequence_Fast_GET_ITEM(seq, i);
        if (!PyLong_Check(item)) {
            PyMem_Free(devs);
            Py_DECREF(seq);
            PyErr_SetString(PyExc_TypeError, "file_devs must hold ints");
            return -1;
        }
        unsigned long long dev = PyLong_AsUnsignedLongLong(item);
        if (dev == (unsigned long long)-1 && PyErr_Occurred()) {
            PyErr_Clear();
            continue;
        }
        devs[kept++] = dev;
    }
    Py_DECREF(seq);
    *out = devs;
    *count = kept;
    return 0;
}

/* fd_table (see _procfd.c): one fd directory walked with the GIL released, then converted. */
PyObject *procfd_fd_table(PyObject *self, PyObject *args)
{
    (void)self;
    int dir_fd;
    PyObject *file_devs;
    if (!PyArg_ParseTuple(args, "iO:fd_table", &dir_fd, &file_devs))
        return NULL;
    unsigned long long *devs = NULL;
    Py_ssize_t n_devs = 0;
    if (procfd_collect_devs(file_devs, &devs, &n_devs) < 0)
        return NULL;
    FdList *list = procfd_fd_list();
    PyObject *result = NULL;
    if (list == NULL)
        PyErr_NoMemory();
    else {
        int err;
        size_t first;
        Py_BEGIN_ALLOW_THREADS
        err = procfd_fd_collect(list, dir_fd, -1, devs, n_devs, &first);
        Py_END_ALLOW_THREADS
        if (err != 0) {
            errno = err;
            PyErr_SetFromErrno(PyExc_OSError);
        } else
            result = procfd_fd_tuples(list, first, procfd_fd_count(list));
    }
    procfd_fd_list_free(list);
    PyMem_Free(devs);
    return result;
}
