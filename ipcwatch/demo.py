"""A live demo workload: producers and consumers over every IPC kind plus a few stale leftovers, all removed on stop.

The parent makes every object with a `workload.objects.Maker`, which records each in a `Ledger` (a marker file)
as soon as it exists, and starts one child process per role (ipcwatch.workload.roles). Children run in their own
session (Ctrl-C reaches only the parent), die with the parent (PR_SET_PDEATHSIG) and are killed and reaped by
`Demo.stop`, which then removes every recorded object and the private directory (made with mkdtemp, never a
predictable path) and deletes the marker. A demo killed with SIGKILL leaves its marker for `ledger.sweep`. Names
start with `ipcwatch-demo-`; SysV keys are in DEMO_KEYS (0x1dc0XXXX).
"""

from __future__ import annotations

import os
import sys
import tempfile

from ipcwatch.actions.outcome import Outcome
from ipcwatch.kinds import Kind
from ipcwatch.record import field, record
from ipcwatch.workload import children
from ipcwatch.workload.children import Child
from ipcwatch.workload.keys import KeyRange
from ipcwatch.workload.ledger import Ledger
from ipcwatch.workload.objects import Maker

PREFIX = "ipcwatch-demo-"
DEMO_KEYS = KeyRange(0x1DC00000, 0x10000)
READY_TIMEOUT = 20.0


@record(frozen=False)
class Made:
    """One object the demo made: its ref (as `ipcwatch list` shows it) and what it is for."""

    ref: str
    what: str


@record(frozen=False)
class Demo:
    """Start with `start()` (or `with Demo() as demo:`); `stop()` is idempotent and removes everything."""

    directory: str = ""
    made: list[Made] = field(default_factory=list)
    children: dict[str, Child] = field(default_factory=dict)
    ledger: Ledger = field(default_factory=lambda: Ledger("demo"))

    @property
    def tag(self) -> str:
        return f"{PREFIX}{os.getpid()}-"

    @property
    def pids(self) -> dict[str, int]:
        return {role: child.pid for role, child in self.children.items()}

    def __enter__(self) -> Demo:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        """Create every object and start every child; on any failure, undo all of it and re-raise."""
        try:
            self._start()
        except BaseException:
            self.stop()
            raise

    def stop(self) -> list[Outcome]:
        """Kill and reap the children, then remove every recorded object, the private directory and the marker."""
        for child in self.children.values():
            child.stop()
        self.children.clear()
        return self.ledger.remove_all()

    # --- creation ---------------------------------------------------------------------------------------------

    def _start(self) -> None:
        self.ledger = Ledger.open("demo")
        self.directory = tempfile.mkdtemp(prefix=PREFIX)
        self.ledger.add(f"dir:{self.directory}")
        make = Maker(self.ledger, DEMO_KEYS, self.tag, self.directory)
        starting: list[tuple[str, list[str], tuple[int, ...]]] = []

        shm_id, shm_key = make.sysv(Kind.SYSV_SHM, size=65536)
        sem_id, sem_key = make.sysv(Kind.SYSV_SEM)
        self._note(f"sysv-shm:{shm_id}", f"SysV shm (key 0x{shm_key:08x}): written by sysv-writer, read by sysv-reader")
        self._note(f"sysv-sem:{sem_id}", f"SysV semaphore (key 0x{sem_key:08x}): posted by the writer, awaited")
        starting += [
            ("sysv-writer", [str(shm_key), str(sem_key)], ()),
            ("sysv-reader", [str(shm_key), str(sem_key)], ()),
        ]

        msq_id, msq_key = make.sysv(Kind.SYSV_MSG)
        self._note(f"sysv-msg:{msq_id}", f"SysV message queue (key 0x{msq_key:08x}): msg-producer -> msg-consumer")
        starting += [("msg-producer", [str(msq_key)], ()), ("msg-consumer", [str(msq_key)], ())]

        make.posix_shm("shm", size=65536).close_fd()
        self._note(f"posix-shm:{self.tag}shm", "POSIX shm: written by pshm-writer, mapped by pshm-reader")
        starting += [("pshm-writer", [f"/{self.tag}shm"], ()), ("pshm-reader", [f"/{self.tag}shm"], ())]

        make.posix_mq("mq", max_messages=8).close()
        self._note(f"posix-mq:{self.tag}mq", "POSIX message queue: mq-producer -> mq-consumer")
        starting += [("mq-producer", [f"/{self.tag}mq"], ()), ("mq-consumer", [f"/{self.tag}mq"], ())]

        make.posix_sem("sem").close()
        self._note(f"posix-sem:{self.tag}sem", "POSIX named semaphore: psem-poster -> psem-waiter")
        starting += [("psem-poster", [f"/{self.tag}sem"], ()), ("psem-waiter", [f"/{self.tag}sem"], ())]

        fifo = make.fifo(f"{PREFIX}fifo")
        self._note(f"fifo:{fifo}", "FIFO: fifo-writer -> fifo-reader")
        starting += [("fifo-writer", [fifo], ()), ("fifo-reader", [fifo], ())]

        read_end, write_end = os.pipe()
        self._note(f"pipe:{os.fstat(read_end).st_ino}", "anonymous pipe: pipe-writer -> pipe-reader")
        starting += [("pipe-writer", [str(write_end)], (write_end,)), ("pipe-reader", [str(read_end)], (read_end,))]

        listener = make.unix_listener(f"{PREFIX}server.sock", backlog=4)
        sock_path = make.path(f"{PREFIX}server.sock")
        self._note(f"unix:{os.fstat(listener.fileno()).st_ino}", f"unix socket {sock_path}: unix-server <- unix-client")
        starting += [("unix-server", [str(listener.fileno())], (listener.fileno(),)), ("unix-client", [sock_path], ())]

        try:
            for role, args, fds in starting:
                self._spawn(role, args, fds)
        finally:
            for fd in (read_end, write_end):
                os.close(fd)
            listener.close()
        for child in self.children.values():
            child.wait_ready(READY_TIMEOUT)
        self._make_leftovers(make)

    def _make_leftovers(self, make: Maker) -> None:
        orphan = self._spawn("sysv-orphan", [str(DEMO_KEYS.free())], ())
        orphan_id = int(orphan.wait_ready(READY_TIMEOUT)[0])
        self.ledger.add(f"sysv-shm:{orphan_id}")
        self.children.pop("sysv-orphan").stop()  # it has exited already: reaped
        self._note(f"sysv-shm:{orphan_id}", "stale: SysV shm whose creator exited")

        make.posix_shm("stale-shm").close_fd()
        self._note(f"posix-shm:{self.tag}stale-shm", "stale: POSIX shm nobody holds")

        fifo = make.fifo(f"{PREFIX}stale.fifo")
        self._note(f"fifo:{fifo}", "stale: FIFO nobody opens")

        path = make.socket_file(f"{PREFIX}stale.sock")
        self._note(f"unix:{path}", "stale: socket file with no listener")

    def _note(self, ref: str, what: str) -> None:
        self.made.append(Made(ref, what))

    def _spawn(self, role: str, args: list[str], fds: tuple[int, ...]) -> Child:
        argv = [sys.executable, "-m", "ipcwatch.workload.roles", role, str(os.getpid()), *args]
        child = self.children[role] = children.start(argv, pass_fds=fds, new_session=True)
        self.ledger.add(f"process:{child.pid}")
        return child
