/* The fd table of one process, the fill of pipes and the /proc pass's reads of every process, with the GIL released
 * around the system calls.
 *
 * fd_table(fd_dir_fd, file_devs) -> list[tuple]
 *     One entry per fd of an open /proc/PID/fd directory that can hold an IPC object, in directory order:
 *         ("s", fd, inode)                                          a socket
 *         ("p", fd, inode, mode)                                    an anonymous pipe end
 *         ("f", fd, st_dev, st_ino, mode, is_fifo, st_nlink, link)  a FIFO, or a file whose st_dev is in file_devs
 *                                                                   (ANON_DEVS, 2**64 - 1, in file_devs: or of major 0)
 *         ("a", fd, "eventfd" | "signalfd")                        an anon_inode:[eventfd] or anon_inode:[signalfd]
 *         ("n", fd, "ipc" | "mnt" | "net", inode)                  an nsfs fd (link ipc:[N], mnt:[N] or net:[N])
 *     mode ("r", "w", "rw" or "?") comes from the permission bits of the fd's own /proc link; link is the readlink text
 *     decoded like os.fsdecode. A vanished or unreadable fd is skipped; an error reading the directory raises
 *     OSError. It is read from its start with getdents64 (the fd offset rewound before and after): no fd is opened.
 * pipe_fills(proc_root, [(inode, [(pid, fd), ...]), ...]) -> [(queued, capacity) | None, ...]
 *     Per pipe or FIFO: bytes queued (FIONREAD) and capacity (F_GETPIPE_SZ) through the first of its read ends
 *     PROC_ROOT/PID/fd/FD that answers; None when none does. Each fd is first opened with O_PATH (under its
 *     process's fd directory, opened once per process: the pipes are visited by the pid of their first end) and
 *     must be a FIFO with st_ino == inode; only then is it reopened for reading (non-blocking) through
 *     /proc/self/fd, so a recycled fd number can never make us open a device. One call for all of them, the GIL
 *     released throughout.
 *     It lives in _procfd_pipe.c, compiled into this same extension.
 * read_processes(proc_root, file_devs, maps_mode, read_anon, read_waits=False)
 *         -> [(pid, stat, uid, cmdline, fds, maps, ipc, waits), ...]
 *     Everything the /proc pass reads of every process under proc_root, in directory order, in one call with the
 *     GIL released throughout: each PROC_ROOT/PID directory is opened in turn (one at a time) and read through that
 *     fd: stat (bytes, one read of up to 8 KiB), the directory's owner uid, cmdline (bytes, one read of up to
 *     64 KiB; b"" when unreadable), fds (fd_table of its fd directory, or the errno int when that cannot be opened
 *     or walked; with read_anon each "a" entry gains a fourth item, its fdinfo bytes (one read of up to 4 KiB) or
 *     None), maps (maps_mode 0: None; 1: shared_maps of its maps file, or the errno; 2: the same until a maps file
 *     refuses PROCMAP_QUERY (ENOTTY, EINVAL), then the maps text (up to 64 MiB read; as bytes, only its lines that
 *     name /SYSV or /dev/shm/, joined by newlines; or the errno) for that process and every later one; 3: the text)
 *     and ipc (the st_ino of its ns/ipc, -errno when that cannot be stat'ed, None when no mapping read is a SysV
 *     segment: a path starting /SYSV) and waits (None unless read_waits; else None when task cannot be stat'ed, or
 *     (st_nlink of task, syscall, wchan, sched): for a process whose stat says S or D and whose task has at most 3
 *     links (one thread) its syscall file (one read of up to 512 bytes), and unless that starts "running" its wchan
 *     (256) and sched (64 KiB), each bytes or the errno of its read; None when not read: what the blocked-thread
 *     sampling reads of most processes, read beside the rest). A process whose stat cannot be read is (pid, errno);
 *     one whose directory
 *     cannot be opened (gone since the listing) is left out. OSError when proc_root cannot be read. It lives in
 *     _procfd_batch.c and _procfd_process.c.
 * ns_keys(proc_root, types) -> [(pid, (key, ...), task_links), ...]
 *     For every process under proc_root, in directory order (one directory open at a time, the GIL released
 *     throughout): per namespace type of `types` (a tuple of names such as "ipc"), the (st_dev, st_ino) of its
 *     ns/TYPE, or the errno stat'ing it; and the st_nlink of its task directory (threads + 2) or None. A process
 *     whose directory cannot be opened (gone since the listing) is left out. It lives in _procfd_batch.c.
 * shared_maps(maps_fd) -> list[(mode, st_dev, inode, path)]
 *     The shared file-backed mappings of an open /proc/PID/maps, in address order, through PROCMAP_QUERY (Linux
 *     6.11+): mode "r", "w", "rw" or "-", path the mapping's name as bytes. OSError(ENOTTY or EINVAL) on kernels
 *     without the ioctl (the caller then parses the maps text). It lives in _procfd_maps.c.
 */
#define _GNU_SOURCE
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include "_procfd.h"
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "_grow.h"

#define DENTS_SIZE (16 * 1024)
#define LINK_CAP (PATH_MAX + 1)         /* one more than any link can be, to detect truncation */
#define INFO_CAP 4096                   /* one read of an fdinfo file */

struct dirent64_raw {
    uint64_t d_ino;
    int64_t d_off;
    unsigned short d_reclen;
    unsigned char d_type;
    char d_name[];
};

#define NAME_OFFSET offsetof(struct dirent64_raw, d_name)

typedef struct {
    char kind;                          /* 's', 'p', 'f', 'a' or 'n' */
    unsigned char mode;                 /* index into mode_names */
    char is_fifo;
    int fd;
    unsigned long long a;               /* s, p: inode; f: st_dev; a: index into anon_names; n: into ns_names */
    unsigned long long b;               /* f: st_ino; n: inode */
    unsigned long long nlink;
    size_t text_off;                    /* f: the link; a with an fdinfo dir: its fdinfo (text_len -1: unread) */
    ssize_t text_len;
} Entry;

/* The entries of any number of fd directories, kept without the GIL until procfd_fd_tuples converts a range. */
struct FdList {
    Entry *entries;
    size_t n_entries, cap_entries;
    char *arena;                        /* link and fdinfo texts */
    size_t arena_used, cap_arena;
    char dents[DENTS_SIZE];
};

typedef struct {
    FdList *out;
    int dir_fd, info_dir_fd;
    const unsigned long long *devs;
    Py_ssize_t n_devs;
} Walk;

static PyObject *kind_s, *kind_p, *kind_f, *kind_a, *kind_n, *anon_names[2];  /* "eventfd", "signalfd" */
static PyObject *mode_names[4], *ns_names[3];  /* "?", "r", "w", "rw"; "ipc", "mnt", "net" */
static const char *anon_links[2] = {"anon_inode:[eventfd]", "anon_inode:[signalfd]"};
static const char *ns_links[3] = {"ipc:[", "mnt:[", "net:["};


/* The fd number a /proc/PID/fd entry name spells, or -1 for ".", ".." and anything else. */
static int parse_fd_name(const char *name)
{
    long long value = 0;
    if (*name == '\0')
        return -1;
    for (const char *p = name; *p; p++) {
        if (*p < '0' || *p > '9')
            return -1;
        value = value * 10 + (*p - '0');
        if (value > INT_MAX)
            return -1;
    }
    return (int)value;
}

/* N from "<prefix>N]" of length len; 0 when the text is not exactly that. */
static int parse_bracketed(const char *text, size_t len, const char *prefix, unsigned long long *out)
{
    size_t plen = strlen(prefix);
    if (len < plen + 2 || memcmp(text, prefix, plen) != 0 || text[len - 1] != ']')
        return 0;
    unsigned long long value = 0;
    for (size_t i = plen; i < len - 1; i++) {
        unsigned digit = (unsigned char)text[i] - '0';
        if (digit > 9 || value > (ULLONG_MAX - digit) / 10)
            return 0;
        value = value * 10 + digit;
    }
    *out = value;
    return 1;
}

static unsigned char link_mode(int dir_fd, const char *name)
{
    struct stat st;
    if (fstatat(dir_fd, name, &st, AT_SYMLINK_NOFOLLOW) != 0)
        return 0;
    switch (st.st_mode & 0600) {
    case 0400: return 1;
    case 0200: return 2;
    case 0600: return 3;
    default: return 0;
    }
}

/* ANON_DEVS in file_devs stands for every device of major 0, the anonymous devices that tmpfs and mqueue mounts get
 * (every /dev/shm, every /dev/mqueue): a pass can start before it knows which of them are wanted. */
#define ANON_DEVS ULLONG_MAX

static int dev_wanted(const Walk *w, unsigned long long dev)
{
    for (Py_ssize_t i = 0; i < w->n_devs; i++)
        if (w->devs[i] == dev || (w->devs[i] == ANON_DEVS && major((dev_t)dev) == 0))
            return 1;
    return 0;
}

/* One read of fdinfo/FD under the process directory into the arena: its length, or -1 when it cannot be read. */
static ssize_t read_info(Walk *w, int fd)
{
    char name[32];
    snprintf(name, sizeof name, "fdinfo/%d", fd);
    int info = openat(w->info_dir_fd, name, O_RDONLY | O_CLOEXEC);
    if (info < 0)
        return -1;
    ssize_t n = read(info, w->out->arena + w->out->arena_used, INFO_CAP);
    close(info);
    return n;
}

/* Classify one directory entry into the list (or not). Called without the GIL; 0, or ENOMEM. */
static int classify(Walk *w, const char *name)
{
    FdList *out = w->out;
    int fd = parse_fd_name(name);
    if (fd < 0)
        return 0;
    if (grow((void **)&out->entries, &out->cap_entries, out->n_entries + 1, sizeof(Entry)) < 0
        || grow((void **)&out->arena, &out->cap_arena, out->arena_used + LINK_CAP + INFO_CAP, 1) < 0)
        return ENOMEM;
    char *link = out->arena + out->arena_used;
    ssize_t n = readlinkat(w->dir_fd, name, link, LINK_CAP);
    if (n <= 0 || n >= LINK_CAP)
        return 0;                       /* gone, not a link, or truncated */
    Entry *e = &out->entries[out->n_entries];
    e->fd = fd;
    e->text_len = -1;
    if (link[0] == 's') {
        if (!parse_bracketed(link, (size_t)n, "socket:[", &e->a))
            return 0;
        e->kind = 's';
    } else if (link[0] == 'p') {
        if (!parse_bracketed(link, (size_t)n, "pipe:[", &e->a))
            return 0;
        e->kind = 'p';
        e->mode = link_mode(w->dir_fd, name);
    } else if (link[0] == '/') {
        struct stat st;
        if (fstatat(w->dir_fd, name, &st, 0) != 0)
            return 0;
        int is_fifo = S_ISFIFO(st.st_mode);
        if (!is_fifo && !dev_wanted(w, (unsigned long long)st.st_dev))
            return 0;
        e->kind = 'f';
        e->a = (unsigned long long)st.st_dev;
        e->b = (unsigned long long)st.st_ino;
        e->is_fifo = (char)is_fifo;
        e->nlink = (unsigned long long)st.st_nlink;
        e->mode = link_mode(w->dir_fd, name);
        e->text_off = out->arena_used;
        e->text_len = n;
        out->arena_used += (size_t)n;
    } else if (link[0] == 'a') {
        e->a = 2;
        for (unsigned long long i = 0; i < 2; i++)
            if ((size_t)n == strlen(anon_links[i]) && memcmp(link, anon_links[i], (size_t)n) == 0)
                e->a = i;
        if (e->a == 2)
            return 0;
        e->kind = 'a';
        if (w->info_dir_fd >= 0) {
            e->text_off = out->arena_used;
            e->text_len = read_info(w, fd);
            if (e->text_len < 0)
                e->text_len = -2;       /* asked for and unreadable */
            else
                out->arena_used += (size_t)e->text_len;
        }
    } else {
        for (e->a = 0; e->a < 3; e->a++)
            if (parse_bracketed(link, (size_t)n, ns_links[e->a], &e->b))
                break;
        if (e->a == 3)
            return 0;
        e->kind = 'n';
    }
    out->n_entries++;
    return 0;
}

FdList *procfd_fd_list(void)
{
    return calloc(1, sizeof(FdList));
}

void procfd_fd_list_free(FdList *list)
{
    if (list != NULL) {
        free(list->entries);
        free(list->arena);
        free(list);
    }
}

size_t procfd_fd_count(const FdList *list)
{
    return list->n_entries;
}

/* Append the entries of the fd directory dir_fd (read from its start, its offset rewound after) to the list, with
 * each anon fd's fdinfo read under info_dir_fd unless that is -1. Without the GIL; 0 or an errno (the entries of
 * a directory that failed are dropped). *first is where its entries begin. */
int procfd_fd_collect(FdList *list, int dir_fd, int info_dir_fd, const unsigned long long *devs, Py_ssize_t n_devs,
                      size_t *first)
{
    Walk w = {.out = list, .dir_fd = dir_fd, .info_dir_fd = info_dir_fd, .devs = devs, .n_devs = n_devs};
    size_t entries_before = list->n_entries, arena_before = list->arena_used;
    int err = 0;
    *first = entries_before;
    (void)lseek(dir_fd, 0, SEEK_SET);   /* fails on a non-directory, which getdents64 then reports */
    for (;;) {
        long got = syscall(SYS_getdents64, dir_fd, list->dents, DENTS_SIZE);
        if (got <= 0) {
            err = got < 0 ? errno : 0;
            break;
        }
        /* A malformed record (never from a sane kernel) ends the walk: never loop or read past the buffer. */
        for (long pos = 0; pos < got && err == 0;) {
            struct dirent64_raw *d = (struct dirent64_raw *)(list->dents + pos);
            if (got - pos <= (long)NAME_OFFSET || d->d_reclen <= NAME_OFFSET || d->d_reclen > got - pos
                || memchr(d->d_name, '\0', d->d_reclen - NAME_OFFSET) == NULL)
                err = EIO;
            else {
                pos += d->d_reclen;
                err = classify(&w, d->d_name);
            }
        }
        if (err != 0)
            break;
    }
    (void)lseek(dir_fd, 0, SEEK_SET);   /* leave the caller's fd as it came: one cheap non-blocking call */
    if (err != 0) {
        list->n_entries = entries_before;
        list->arena_used = arena_before;
    }
    return err;
}

static PyObject *entry_tuple(const FdList *list, const Entry *e)
{
    if (e->kind == 's')
        return Py_BuildValue("(OiK)", kind_s, e->fd, e->a);
    if (e->kind == 'p')
        return Py_BuildValue("(OiKO)", kind_p, e->fd, e->a, mode_names[e->mode]);
    if (e->kind == 'a' && e->text_len == -1)
        return Py_BuildValue("(OiO)", kind_a, e->fd, anon_names[e->a]);
    if (e->kind == 'a' && e->text_len == -2)
        return Py_BuildValue("(OiOO)", kind_a, e->fd, anon_names[e->a], Py_None);
    if (e->kind == 'a')
        return Py_BuildValue("(OiOy#)", kind_a, e->fd, anon_names[e->a], list->arena + e->text_off,
                             (Py_ssize_t)e->text_len);
    if (e->kind == 'n')
        return Py_BuildValue("(OiOK)", kind_n, e->fd, ns_names[e->a], e->b);
    PyObject *link = PyUnicode_DecodeFSDefaultAndSize(list->arena + e->text_off, (Py_ssize_t)e->text_len);
    if (link == NULL)
        return NULL;
    return Py_BuildValue("(OiKKOOKN)", kind_f, e->fd, e->a, e->b, mode_names[e->mode],
                         e->is_fifo ? Py_True : Py_False, e->nlink, link);
}

/* The tuples of entries [first, end) of the list (with the GIL); NULL with an exception set. */
PyObject *procfd_fd_tuples(const FdList *list, size_t first, size_t end)
{
    PyObject *result = PyList_New((Py_ssize_t)(end - first));
    for (size_t i = first; result != NULL && i < end; i++) {
        PyObject *item = entry_tuple(list, &list->entries[i]);
        if (item == NULL)
            Py_CLEAR(result);
        else
            PyList_SET_ITEM(result, (Py_ssize_t)(i - first), item);
    }
    return result;
}

static PyMethodDef methods[] = {
    {"fd_table", procfd_fd_table, METH_VARARGS, "The IPC-capable fds of an open /proc/PID/fd directory."},
    {"pipe_fills", procfd_pipe_fills, METH_VARARGS, "(queued, capacity) of each pipe through its read ends, or None."},
    {"shared_maps", procfd_shared_maps, METH_VARARGS, "Shared file-backed mappings of an open maps fd."},
    {"read_processes", procfd_read_processes, METH_VARARGS, "stat, uid, cmdline, fd table and mappings of every process."},
    {"ns_keys", procfd_ns_keys, METH_VARARGS, "The namespaces and thread count of every process."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_procfd", "The /proc fd-table walk and pipe fill (the compiled helper).", -1, methods,
    NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__procfd(void)
{
    static const char *names[4] = {"?", "r", "w", "rw"}, *anons[2] = {"eventfd", "signalfd"};
    static const char *nss[3] = {"ipc", "mnt", "net"};
    if (kind_s == NULL) {
        kind_s = PyUnicode_InternFromString("s");
        kind_p = PyUnicode_InternFromString("p");
        kind_f = PyUnicode_InternFromString("f");
        kind_a = PyUnicode_InternFromString("a");
        kind_n = PyUnicode_InternFromString("n");
        int ok = kind_s != NULL && kind_p != NULL && kind_f != NULL && kind_a != NULL && kind_n != NULL;
        for (int i = 0; i < 4; i++)
            ok = ok && (mode_names[i] = PyUnicode_InternFromString(names[i])) != NULL;
        for (int i = 0; i < 2; i++)
            ok = ok && (anon_names[i] = PyUnicode_InternFromString(anons[i])) != NULL;
        for (int i = 0; i < 3; i++)
            ok = ok && (ns_names[i] = PyUnicode_InternFromString(nss[i])) != NULL;
        if (!ok)
            return NULL;
    }
    return PyModule_Create(&module);
}
