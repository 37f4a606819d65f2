/* special_files of the _posixread extension (see _posixread.c for its contract), kept in its own file of that
 * extension: the bounded walk for FIFO and socket files, with the GIL released while it walks.
 */
#define _GNU_SOURCE
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "_grow.h"

PyObject *posixread_special_files(PyObject *self, PyObject *args);
PyObject *posixread_stat_object(const struct stat *st);

typedef struct {
    char *path;                         /* malloc'd */
    int level;
} Dir;

typedef struct {
    char *path;                         /* malloc'd; NULL for a root error's path, which is roots[root] */
    int err;                            /* 0: a FIFO or socket with st; else an errno (a root that failed) */
    struct stat st;
} Found;

typedef struct {
    unsigned long long dev, ino;
    int used;
} Key;

typedef struct {
    Dir *stack;
    size_t n_stack, cap_stack;
    Key *seen;                          /* open addressing; cap_seen is 0 or a power of two */
    size_t n_seen, cap_seen;
    Found *found;
    size_t n_found, cap_found;
    long long budget;
    int failed;                         /* out of memory */
} Walk;

/* Add (dev, ino) to the visited directories: 1 when it was new, 0 when seen before, -1 out of memory. */
static int first_visit(Walk *w, unsigned long long dev, unsigned long long ino)
{
    if (2 * (w->n_seen + 1) > w->cap_seen) {  /* keep it at most half full */
        size_t cap = w->cap_seen ? w->cap_seen * 2 : 256;
        Key *grown = calloc(cap, sizeof *grown);
        if (grown == NULL)
            return -1;
        for (size_t i = 0; i < w->cap_seen; i++) {
            if (!w->seen[i].used)
                continue;
            size_t j = (size_t)((w->seen[i].dev * 0x9E3779B97F4A7C15ULL) ^ w->seen[i].ino) & (cap - 1);
            while (grown[j].used)
                j = (j + 1) & (cap - 1);
            grown[j] = w->seen[i];
        }
        free(w->seen);
        w->seen = grown;
        w->cap_seen = cap;
    }
    size_t j = (size_t)((dev * 0x9E3779B97F4A7C15ULL) ^ ino) & (w->cap_seen - 1);
    for (; w->seen[j].used; j = (j + 1) & (w->cap_seen - 1))
        if (w->seen[j].dev == dev && w->seen[j].ino == ino)
            return 0;
    w->seen[j] = (Key){dev, ino, 1};
    w->n_seen++;
    return 1;
}

/* path joined with name as os.DirEntry.path joins them; malloc'd, or NULL. */
static char *joined(const char *path, const char *name)
{
    size_t plen = strlen(path), nlen = strlen(name);
    int sep = plen > 0 && path[plen - 1] != '/';
    char *out = malloc(plen + sep + nlen + 1);
    if (out != NULL) {
        memcpy(out, path, plen);
        if (sep)
            out[plen] = '/';
        memcpy(out + plen + sep, name, nlen + 1);
    }
    return out;
}

static void push(Walk *w, char *path, int level)
{
    if (path == NULL || grow((void **)&w->stack, &w->cap_stack, w->n_stack + 1, sizeof *w->stack) < 0) {
        free(path);
        w->failed = 1;
        return;
    }
    w->stack[w->n_stack].path = path;
    w->stack[w->n_stack++].level = level;
}

static void note(Walk *w, char *path, int err, const struct stat *st)
{
    if (grow((void **)&w->found, &w->cap_found, w->n_found + 1, sizeof *w->found) < 0) {
        free(path);
        w->failed = 1;
        return;
    }
    Found *f = &w->found[w->n_found++];
    f->path = path;
    f->err = err;
    if (st != NULL)
        f->st = *st;
}

/* Visit one directory as walk_special_files does. Called without the GIL. */
static void visit(Walk *w, const char *path, int level, int depth)
{
    struct stat st;
    if (stat(path, &st) != 0) {         /* a root such as /var/run may be a link to /run: visit each directory once */
        if (errno != ENOENT && level == 0)
            note(w, strdup(path), errno, NULL);
        return;
    }
    int first = first_visit(w, (unsigned long long)st.st_dev, (unsigned long long)st.st_ino);
    if (first <= 0) {
        w->failed |= first < 0;
        return;
    }
    DIR *dir = opendir(path);
    if (dir == NULL) {
        if (errno != ENOENT && level == 0)
            note(w, strdup(path), errno, NULL);
        return;
    }
    /* Read the whole directory first: an error while reading skips it all, as list(os.scandir(path)) does. */
    char **names = NULL;
    unsigned char *types = NULL;
    size_t n = 0, cap_names = 0, cap_types = 0;
    int err = 0;
    while (1) {
        errno = 0;
        struct dirent *d = readdir(dir);
        if (d == NULL) {
            err = errno;
            break;
        }
        const char *name = d->d_name;
        if (name[0] == '.' && (name[1] == '\0' || (name[1] == '.' && name[2] == '\0')))
            continue;
        if (grow((void **)&names, &cap_names, n + 1, sizeof *names) < 0 ||
            grow((void **)&types, &cap_types, n + 1, 1) < 0 || (names[n] = strdup(name)) == NULL) {
            err = ENOMEM;
            break;
        }
        types[n++] = d->d_type;
    }
    int dfd = dirfd(dir);
    if (err != 0) {
        if (err == ENOMEM)
            w->failed = 1;
        else if (level == 0 && err != ENOENT)
            note(w, strdup(path), err, NULL);
        n = 0;
    }
    for (size_t i = 0; i < n; i++) {
        w->budget--;
        unsigned char type = types[i];
        struct stat est;
        int have = 0;
        if (type == DT_UNKNOWN) {       /* no d_type from this filesystem: lstat says, as os.DirEntry does */
            if (fstatat(dfd, names[i], &est, AT_SYMLINK_NOFOLLOW) != 0)
                continue;
            have = 1;
            type = S_ISDIR(est.st_mode) ? DT_DIR : S_ISREG(est.st_mode) ? DT_REG : S_ISLNK(est.st_mode) ? DT_LNK
                                                                                                      : DT_FIFO;
        }
        if (type == DT_DIR) {
            if (level + 1 < depth)
                push(w, joined(path, names[i]), level + 1);
        } else if (type != DT_REG && type != DT_LNK) {  /* a FIFO, socket or device: its lstat says which */
            if (!have && fstatat(dfd, names[i], &est, AT_SYMLINK_NOFOLLOW) != 0)
                continue;
            if (S_ISFIFO(est.st_mode) || S_ISSOCK(est.st_mode))
                note(w, joined(path, names[i]), 0, &est);
        }
    }
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
    free(types);
    closedir(dir);
}

PyObject *posixread_special_files(PyObject *self, PyObject *args)
{
    (void)self;
    PyObject *roots_arg;
    int depth;
    long long budget;
    if (!PyArg_ParseTuple(args, "OiL:special_files", &roots_arg, &depth, &budget))
        return NULL;
    PyObject *seq = PySequence_Fast(roots_arg, "roots must be a sequence of paths");
    if (seq == NULL)
        return NULL;
    Walk w = {.budget = budget};
    Py_ssize_t count = PySequence_Fast_GET_SIZE(seq);
    for (Py_ssize_t i = 0; i < count && !w.failed; i++) {
        PyObject *encoded;
        if (!PyUnicode_FSConverter(PySequence_Fast_GET_ITEM(seq, i), &encoded)) {
            Py_DECREF(seq);
            for (size_t j = 0; j < w.n_stack; j++)
                free(w.stack[j].path);
            free(w.stack);
            return NULL;
        }
        push(&w, strdup(PyBytes_AS_STRING(encoded)), 0);
        Py_DECREF(encoded);
    }
    Py_DECREF(seq);
    Py_BEGIN_ALLOW_THREADS
    while (w.n_stack > 0 && w.budget > 0 && !w.failed) {
        Dir top = w.stack[--w.n_stack];
        visit(&w, top.path, top.level, depth);
        free(top.path);
    }
    Py_END_ALLOW_THREADS
    PyObject *found = w.failed ? PyErr_NoMemory() : PyList_New(0), *result = NULL;
    for (size_t i = 0; found != NULL && i < w.n_found; i++) {
        Found *f = &w.found[i];
        PyObject *one = f->err != 0 ? Py_BuildValue("(O&i)", PyUnicode_DecodeFSDefault, f->path, f->err)
                                    : Py_BuildValue("(O&N)", PyUnicode_DecodeFSDefault, f->path,
                                                    posixread_stat_object(&f->st));
        if (one == NULL || PyList_Append(found, one) < 0)
            Py_CLEAR(found);
        Py_XDECREF(one);
    }
    if (found != NULL)
        result = Py_BuildValue("(NO)", found, w.budget <= 0 ? Py_True : Py_False);
    for (size_t i = 0; i < w.n_stack; i++)
        free(w.stack[i].path);
    for (size_t i = 0; i < w.n_found; i++)
        free(w.found[i].path);
    free(w.stack);
    free(w.seen);
    free(w.found);
    return result;
}
