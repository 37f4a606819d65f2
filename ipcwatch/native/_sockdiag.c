/* The unix sockets of a network namespace from one NETLINK_SOCK_DIAG dump (the compiled helper;
 * ipcwatch/native/sockdiag.py holds the pure-Python twin and picks one). The GIL is released around every system
 * call; the kernel's answer is parsed here, so the scan needs neither the socket module nor a Python loop per socket.
 *
 * unix_dump(fd) -> list[tuple]
 *     Every unix socket, one dump over the NETLINK_SOCK_DIAG socket `fd` (left open: its owner closes it), or over a
 *     new one in this thread's network namespace when fd is -1 (closed afterwards). Each socket is
 *         (inode, type, state, name, vfs, peer, icons, recv_queue, send_queue, uid, cookie)
 *     as parse_message gives it. OSError with the kernel's errno for an NLMSG_ERROR answer, ETIMEDOUT when no
 *     answer comes within 5 seconds.
 * parse_message(payload) -> tuple | None
 *     One unix_diag_msg and its attributes (the bytes after the netlink header): name is the exact bound address
 *     (b"" when unbound; a pathname cut at its NUL, an abstract name whole), vfs (st_dev, st_ino) of the socket file
 *     or None, peer the peer's inode or None, icons the inodes of the connections a listener has not accepted yet,
 *     recv_queue, send_queue and uid None when the kernel did not say. None when the payload is too short.
 */
#define _GNU_SOURCE
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <errno.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <linux/unix_diag.h>
#include <poll.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#define RECV_SIZE (1 << 20)
#define TIMEOUT_MS 5000
#define MSG_SIZE 16                     /* struct unix_diag_msg: family, type, state, pad, ino (u32), cookie (u64) */
#define HDR_SIZE 16                     /* struct nlmsghdr */
#define SHOW (UDIAG_SHOW_NAME | UDIAG_SHOW_VFS | UDIAG_SHOW_PEER | UDIAG_SHOW_ICONS | UDIAG_SHOW_RQLEN | UDIAG_SHOW_UID)

static uint32_t u32_at(const unsigned char *p)
{
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}

static PyObject *u32_or_none(int present, uint32_t value)
{
    return present ? PyLong_FromUnsignedLong(value) : Py_NewRef(Py_None);
}

static PyObject *parse(const unsigned char *p, Py_ssize_t len)
{
    if (len < MSG_SIZE)
        Py_RETURN_NONE;
    unsigned sock_type = p[1], state = p[2];
    uint32_t inode = u32_at(p + 4);
    uint64_t cookie;
    memcpy(&cookie, p + 8, 8);
    const unsigned char *name = (const unsigned char *)"", *icons = NULL;
    Py_ssize_t name_len = 0, n_icons = 0;
    int has_vfs = 0, has_peer = 0, has_rq = 0, has_uid = 0;
    uint32_t vfs_ino = 0, vfs_dev = 0, peer = 0, rq = 0, wq = 0, uid = 0;
    Py_ssize_t off = MSG_SIZE;
    while (off + 4 <= len) {
        uint16_t rta_len, rta_type;
        memcpy(&rta_len, p + off, 2);
        memcpy(&rta_type, p + off + 2, 2);
        if (rta_len < 4 || off + rta_len > len)
            break;
        const unsigned char *data = p + off + 4;
        Py_ssize_t n = rta_len - 4;
        if (rta_type == UNIX_DIAG_NAME) {
            /* a pathname is stored with its terminating NUL; an abstract name is exact bytes (starts with NUL) */
            const unsigned char *nul = n > 0 && data[0] != 0 ? memchr(data, 0, (size_t)n) : NULL;
            name = data;
            name_len = nul != NULL ? nul - data : n;
        } else if (rta_type == UNIX_DIAG_VFS && n >= 8) {
            has_vfs = 1;
            vfs_ino = u32_at(data);
            vfs_dev = u32_at(data + 4);
        } else if (rta_type == UNIX_DIAG_PEER && n >= 4) {
            has_peer = 1;
            peer = u32_at(data);
        } else if (rta_type == UNIX_DIAG_ICONS) {
            icons = data;
            n_icons = n / 4;
        } else if (rta_type == UNIX_DIAG_RQLEN && n >= 8) {
            has_rq = 1;
            rq = u32_at(data);
            wq = u32_at(data + 4);
        } else if (rta_type == UNIX_DIAG_UID && n >= 4) {
            has_uid = 1;
            uid = u32_at(data);
        }
        off += (rta_len + 3) & ~3;
    }
    PyObject *icon_tuple = PyTuple_New(n_icons);
    for (Py_ssize_t i = 0; icon_tuple != NULL && i < n_icons; i++) {
        PyObject *v = PyLong_FromUnsignedLong(u32_at(icons + 4 * i));
        if (v == NULL)
            Py_CLEAR(icon_tuple);
        else
            PyTuple_SET_ITEM(icon_tuple, i, v);
    }
    if (icon_tuple == NULL)
        return NULL;
    /* sock_diag reports the kernel's internal dev_t (major << 20 | minor); stat uses the userspace encoding */
    PyObject *vfs = has_vfs ? Py_BuildValue("(KI)", (unsigned long long)makedev(vfs_dev >> 20, vfs_dev & 0xFFFFF),
                                            vfs_ino)
                            : Py_NewRef(Py_None);
    return Py_BuildValue("(IIIy#NNNNNNK)", inode, sock_type, state, (const char *)name, name_len, vfs,
                         u32_or_none(has_peer && peer != 0, peer), icon_tuple, u32_or_none(has_rq, rq),
                         u32_or_none(has_rq, wq), u32_or_none(has_uid, uid), (unsigned long long)cookie);
}

static PyObject *parse_message(PyObject *self, PyObject *args)
{
    (void)self;
    Py_buffer payload;
    if (!PyArg_ParseTuple(args, "y*:parse_message", &payload))
        return NULL;
    PyObject *result = parse(payload.buf, payload.len);
    PyBuffer_Release(&payload);
    return result;
}

/* Send the dump request; 0 or an errno. Called without the GIL. */
static int request(int fd)
{
    struct {
        struct nlmsghdr nlh;
        struct unix_diag_req req;
    } msg;
    memset(&msg, 0, sizeof msg);
    msg.nlh.nlmsg_len = sizeof msg;
    msg.nlh.nlmsg_type = SOCK_DIAG_BY_FAMILY;
    msg.nlh.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
    msg.nlh.nlmsg_seq = 1;
    msg.req.sdiag_family = AF_UNIX;
    msg.req.udiag_states = 0xFFFFFFFF;
    msg.req.udiag_show = SHOW;
    msg.req.udiag_cookie[0] = msg.req.udiag_cookie[1] = 0xFFFFFFFF;
    struct sockaddr_nl kernel = {.nl_family = AF_NETLINK};
    return sendto(fd, &msg, sizeof msg, 0, (struct sockaddr *)&kernel, sizeof kernel) < 0 ? errno : 0;
}

/* One answer; its length, or -errno. Called without the GIL. */
static ssize_t receive(int fd, unsigned char *buf)
{
    struct pollfd pfd = {.fd = fd, .events = POLLIN};
    int ready = poll(&pfd, 1, TIMEOUT_MS);
    if (ready == 0)
        return -ETIMEDOUT;
    if (ready < 0)
        return -errno;
    ssize_t n = recv(fd, buf, RECV_SIZE, MSG_DONTWAIT);
    return n < 0 ? -errno : n;
}

/* Parse one answer into out; 1 when the dump is complete, 0 to read on, -1 on an error (set). */
static int parse_answer(const unsigned char *buf, ssize_t n, PyObject *out)
{
    if (n == 0)
        return 1;
    for (ssize_t off = 0; off + HDR_SIZE <= n;) {
        uint32_t length = u32_at(buf + off);
        uint16_t type;
        memcpy(&type, buf + off + 4, 2);
        if (length < HDR_SIZE || type == NLMSG_DONE)
            return 1;
        if (type == NLMSG_ERROR) {
            int32_t code = 0;
            if (off + HDR_SIZE + 4 <= n)
                memcpy(&code, buf + off + HDR_SIZE, 4);
            errno = code < 0 ? -code : EIO;
            PyErr_SetFromErrno(PyExc_OSError);
            return -1;
        }
        ssize_t end = off + (ssize_t)length < n ? off + (ssize_t)length : n;
        PyObject *parsed = parse(buf + off + HDR_SIZE, end - off - HDR_SIZE);
        if (parsed == NULL || (parsed != Py_None && PyList_Append(out, parsed) < 0)) {
            Py_XDECREF(parsed);
            return -1;
        }
        Py_DECREF(parsed);
        off += (length + 3) & ~3u;
    }
    return 0;
}

static PyObject *unix_dump(PyObject *self, PyObject *args)
{
    (void)self;
    int fd, err = 0;
    if (!PyArg_ParseTuple(args, "i:unix_dump", &fd))
        return NULL;
    int own = fd == -1;
    unsigned char *buf = PyMem_RawMalloc(RECV_SIZE);
    PyObject *out = buf != NULL ? PyList_New(0) : PyErr_NoMemory();
    if (out == NULL)
        goto done;
    Py_BEGIN_ALLOW_THREADS
    if (own && (fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_SOCK_DIAG)) < 0)
        err = errno;
    else
        err = request(fd);
    Py_END_ALLOW_THREADS
    while (err == 0) {
        ssize_t n;
        Py_BEGIN_ALLOW_THREADS
        n = receive(fd, buf);
        Py_END_ALLOW_THREADS
        if (n < 0) {
            err = (int)-n;
            break;
        }
        int rc = parse_answer(buf, n, out);
        if (rc < 0) {
            Py_CLEAR(out);
            break;
        }
        if (rc == 1)
            break;
    }
    if (err != 0) {
        Py_CLEAR(out);
        errno = err;
        PyErr_SetFromErrno(PyExc_OSError);
    }
done:
    if (own && fd >= 0)
        close(fd);
    PyMem_RawFree(buf);
    return out;
}

static PyMethodDef methods[] = {
    {"unix_dump", unix_dump, METH_VARARGS, "Every unix socket from one NETLINK_SOCK_DIAG dump."},
    {"parse_message", parse_message, METH_VARARGS, "One unix_diag_msg and its attributes."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_sockdiag", "The unix sockets from NETLINK_SOCK_DIAG (the compiled helper).", -1,
    methods, NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__sockdiag(void)
{
    return PyModule_Create(&module);
}
