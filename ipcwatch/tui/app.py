"""The dashboard App: polls the scanner in a thread worker and hands each result to the dashboard screen.

Polls never overlap: a scan runs in a thread worker, which also builds the rows of every view (reusing the previous
scan's row of each unchanged object, so the tables tell unchanged rows by identity and nothing is built twice; an
object row's cells are built only when it is first drawn or filtered) and the view counts; the UI thread only
shows the result. The first scan builds only the All view's rows (and every view's counts) before the first frame:
another worker builds the other views' once that frame is painted. When a scan has been shown, `set_timer`
schedules the next one, after the asked-for
interval or, when scans are costly, after ADAPT times the last scan's CPU time (scans then take at most 1/ADAPT of
a core; the header says "(adaptive)"). Polling waits while another screen (a modal) is on top. The scanner and
the clock are parameters, so tests drive the App with a recorded snapshot and a fixed time. Once the app stops
running (quit, a stop signal, a test's shutdown) every timer and worker callback does nothing: the screens may
already be gone.
"""

from __future__ import annotations

import asyncio
import math
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from types import FrameType
from typing import NoReturn

from textual import work
from textual.app import App
from textual.binding import Binding
from textual.timer import Timer
from textual.worker import Worker, WorkerState, get_current_worker

from ipcwatch.record import record
from ipcwatch.scan import Snapshot, scan
from ipcwatch.text import escape
from ipcwatch.tui.commands import DashboardCommands
from ipcwatch.tui.flows import Flows
from ipcwatch.tui.heap import Collector
from ipcwatch.tui.screens.dashboard import DashboardScreen
from ipcwatch.tui.widgets.keyed_table import KeyedTable
from ipcwatch.tui.widgets.rows import OTHER_VIEWS, Rows, build_rows
from ipcwatch.tui.widgets.status import RefreshState

INTERVALS = (0.5, 1.0, 2.0, 5.0, 10.0, 30.0)
MIN_INTERVAL = 0.2
NEW_SECONDS = 3.0  # how long an object that appeared stays highlighted
NEW_MAX = 100
STOP_SIGNALS = (signal.SIGHUP, signal.SIGTERM, signal.SIGINT, signal.SIGQUIT)
EXIT_GRACE = 2.0  # seconds a clean exit may take after a stop signal before the process ends at once (~0.3 s)
QUIT_WAIT = 1.0  # seconds quitting waits for background work other than a scan
PROFILE_ENV = "IPCWATCH_PROFILE"  # a path: the UI thread's cProfile stats are written there on exit
ADAPT = 12  # the next scan waits at least this many times the last one's CPU time: scans and their rows take at
# most 1/12 of a core (8 %), which leaves drawing room within issue 12's 10 % budget at 9,000 objects
ADAPT_STEP = 0.5  # a stretched interval is rounded up to this
SWITCH_INTERVAL = 0.001  # seconds a thread waits for the GIL before the holder must hand it over (Python: 0.005)


@record
class Scanned:
    """What the scan worker hands the UI thread: every view's rows (with their counts), and the CPU time it took."""

    rows: Rows
    cpu: float


def reuse_rows(new: Rows, old: Rows | None) -> None:
    """In place: each process, blocked-thread and namespace row of `new` equal to `old`'s row under the same key
    becomes that very object, so the tables compare rows by identity (a pointer test on the UI thread). (Object
    rows: `build_rows` already reused the rows of unchanged objects.)"""
    if old is None:
        return
    for view_id in OTHER_VIEWS:
        rows, before = new.view_rows(view_id), {r.key: r for r in old.view_rows(view_id)}
        for i, row in enumerate(rows):
            prev = before.get(row.key)
            if prev is not None and prev is not row and prev == row:
                rows[i] = prev


def adapted(interval: float, cpu: float) -> float:
    """The interval to wait before the next scan: the asked-for one, or ADAPT x the last scan's CPU seconds
    (rounded up to ADAPT_STEP) when that is longer."""
    stretched = math.ceil(ADAPT * cpu / ADAPT_STEP) * ADAPT_STEP
    return max(interval, stretched)


class IpcwatchApp(App[int]):
    CSS_PATH = Path(__file__).with_name("app.tcss")  # absolute: subclasses (tests) live elsewhere
    TITLE = "ipcwatch"
    COMMANDS = App.COMMANDS | {DashboardCommands}
    BINDINGS = [
        Binding("q", "quit", "Quit", id="app.quit"),
        Binding("question_mark", "help", "Keys", id="app.help"),
        Binding("space", "toggle_pause", "Pause", id="app.pause"),
        Binding("plus,equals_sign", "faster", "Faster refresh", show=False, id="app.faster"),
        Binding("minus", "slower", "Slower refresh", show=False, id="app.slower"),
        Binding("r", "refresh_now", "Refresh now", show=False, id="app.refresh"),
    ]

    def __init__(
        self,
        scanner: Callable[[], Snapshot] = scan,
        *,
        read_only: bool = False,
        interval: float = 2.0,
        clock: Callable[[], float] = time.time,
        stop_signals: tuple[int, ...] = (),
    ) -> None:
        super().__init__()
        self.scanner = scanner
        self.read_only = read_only
        self.interval = max(MIN_INTERVAL, interval)
        self.clock = clock
        self.paused = False
        self.scanning = False
        self.flows = Flows(self, read_only=read_only, changed=self.start_scan)
        self.dashboard = DashboardScreen(self.flows)
        self._timer: Timer | None = None
        self._identities: dict[str, str] | None = None
        self._last_rows: Rows | None = None
        # The rows (and snapshot) a scan replaced: freed by the next scan worker, not on the UI thread, where freeing
        # 45,000 objects' snapshot and rows in one go (20-40 ms) delayed the keys pressed as a scan landed.
        self._retired: Rows | None = None
        self.scan_cpu = 0.0  # CPU seconds of the last scan (and its rows)
        self._first_seen: dict[str, float] = {}
        self.collector = Collector()  # the cyclic collector: off for the first scan, then no automatic full ones
        self._collecting = threading.Lock()  # held while `_collect` runs: a scan waits for it
        self._switch_interval = sys.getswitchinterval()  # as found: restored when the app ends
        self._scanned: tuple[Worker[None], Scanned] | None = None  # a scan worker's result, until the UI takes it
        self.stop_signals = stop_signals  # the host's dashboard passes STOP_SIGNALS; tests leave their process alone
        self.stop_signal: int | None = None  # the stop signal that ended the app, if one did

    def get_default_screen(self) -> DashboardScreen:
        return self.dashboard

    def on_ready(self) -> None:
        self.set_interval(1.0, self.show_status)
        # While the scan worker runs Python, the UI thread waits this long each time it needs the GIL back: input
        # read, event handled, frame written (45,000 objects: a key sent during a scan took up to 70-80 ms).
        sys.setswitchinterval(SWITCH_INTERVAL)
        self.start_scan()

    def on_unmount(self) -> None:
        self.collector.restore()
        sys.setswitchinterval(self._switch_interval)

    async def on_load(self) -> None:
        """Before the terminal is taken over: from now on each of `stop_signals` ends the app, and the cyclic collector
        is off until the first scan is shown: that scan's heap is walked again and again as it grows (9,000 objects:
        243 -> 223 ms), and so are the screen's widgets as they are composed and mounted (~6 ms of CPU)."""
        self.collector.pause()
        loop = asyncio.get_running_loop()
        for sig in self.stop_signals:
            signal.signal(sig, partial(self._on_stop_signal, loop))

    def _on_stop_signal(self, loop: asyncio.AbstractEventLoop, signum: int, frame: FrameType | None) -> None:
        """Exit cleanly (the terminal is restored), with 128 + the signal number as the exit code.

        A plain handler, not the loop's: it also runs while the loop is stuck, e.g. in a write to a terminal that
        has gone away (textual's output thread dies, its queue fills, the loop blocks on it). If the clean exit
        has not ended the process within EXIT_GRACE seconds, a watchdog thread ends it at once.
        """
        if self.stop_signal is not None:
            return
        self.stop_signal = signum
        code = 128 + signum
        watchdog = threading.Timer(EXIT_GRACE, os._exit, (code,))
        watchdog.daemon = True  # a clean exit does not wait for it
        watchdog.start()
        loop.call_soon_threadsafe(partial(self.exit, return_code=code))

    # --- polling ---------------------------------------------------------------------------------------------

    def start_scan(self) -> None:
        """Scan now unless a scan is already running (scans never overlap) or the app has stopped."""
        if self.scanning or not self.is_running:
            return
        self._stop_timer()
        self.scanning = True
        self.show_status()
        self._scan()

    @work(thread=True, exclusive=True, group="scan", exit_on_error=False)
    def _scan(self) -> None:
        """Scan and build every view's rows, left in `_scanned` for the UI thread, not returned: a finished worker
        keeps its result until the cyclic collector frees it (a full collection, rare with a big heap), and every
        scan's snapshot and rows stayed alive with it (9,000 objects, 16 scans: 160 MB resident, 76 MB now)."""
        self._retired = None
        with self._collecting:  # a collection running between scans (`_collect`) ends first: never both at once
            pass
        # The process's CPU, not this thread's: the scan reads /proc and the pipes' fills in threads of its own
        # (this thread's time alone missed them: 9,000 objects, 11 % of a core at an interval adapted to 8 %). What
        # the UI thread draws meanwhile counts too, which only errs on the side of scanning less often.
        started = time.process_time()
        with self.collector.building():  # the collector's young walks would go through all it builds, twice
            old = self._last_rows
            rows = build_rows(self.scanner(), old, defer=old is None)  # the first frame waits for the All view only
            reuse_rows(rows, old)
        self._scanned = get_current_worker(), Scanned(rows, time.process_time() - started)

    @work(thread=True, group="collect", exit_on_error=False)
    def _collect(self) -> None:
        """The collector's sweep or full collection when due (see heap), off the UI thread and never during a scan."""
        with self._collecting:
            if not self.scanning:
                self.collector.collect_if_due()

    @work(thread=True, group="rows", exit_on_error=False)
    def _build_rest(self) -> None:
        """The views the first scan left for after its first frame (see `Rows`). The rows are not an argument: a
        finished worker keeps its arguments until the cyclic collector frees it (a next scan completed them
        already if it replaced them)."""
        rows = self._last_rows
        if rows is not None:
            with self.collector.building():
                rows.complete()

    @property
    def effective_interval(self) -> float:
        """The interval in use: the asked-for one, stretched when scans are costly."""
        return adapted(self.interval, self.scan_cpu)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        worker = event.worker
        if worker.group not in ("scan", "rows") or event.state in (WorkerState.PENDING, WorkerState.RUNNING):
            return
        if worker.group == "rows":
            if self.is_running and event.state == WorkerState.SUCCESS:
                self.dashboard.rows_built()
            return
        self.scanning = False
        if not self.is_running:  # a late result while the app shuts down
            return
        done, self._scanned = self._scanned, None
        scanned = done[1] if done is not None and done[0] is worker else None  # not a cancelled worker's
        if event.state == WorkerState.SUCCESS and scanned is not None:
            self.scan_cpu = scanned.cpu
            self.apply(scanned)
        elif event.state == WorkerState.ERROR:
            self.notify(f"scan failed: {escape(str(worker.error))}", severity="error", markup=False)
        self.call_after_refresh(self.collector.resume)
        # A sweep or a full collection (see heap) holds the GIL 10-200 ms: halfway to the next scan, not stacked on a
        # scan's own cost at its start (idle host: the view switches a sweep met there took 60 ms and more)
        self.set_timer(self.effective_interval / 2, self._collect)
        if scanned is not None and not scanned.rows.built(OTHER_VIEWS[0]):
            self.call_after_refresh(self._build_rest)
        self.show_status()
        self._schedule()

    def apply(self, scanned: Scanned) -> None:
        """Show a scan: objects new since the previous scan (or replaced under the same ref) are highlighted."""
        rows, now = scanned.rows, self.clock()
        current = {o.ref: o.identity for o in rows.snapshot.objects}
        if self._identities is not None:
            previous = self._identities
            new = [ref for ref, identity in current.items() if previous.get(ref) != identity]
            if len(new) <= max(NEW_MAX, len(current) // 4):  # a whole new host is not news: no green flood
                self._first_seen.update(dict.fromkeys(new, now))
        self._identities = current
        self._first_seen = {r: t for r, t in self._first_seen.items() if r in current and now - t < NEW_SECONDS}
        self._retired, self._last_rows = self._last_rows, rows
        self.dashboard.apply_rows(rows, frozenset(self._first_seen))

    def _schedule(self) -> None:
        self._stop_timer()
        if not self.paused:
            self._timer = self.set_timer(self.effective_interval, self._tick)

    def _tick(self) -> None:
        self._timer = None
        if not self.is_running:
            return
        if self.screen is not self.dashboard:  # a modal or another screen is open: wait for it
            self._schedule()
            return
        self.start_scan()

    def _stop_timer(self) -> None:
        if self._timer is not None:
            self._timer.stop()
            self._timer = None

    def show_status(self) -> None:
        if not self.is_running:
            return
        state = RefreshState(
            self.interval, self.paused, self.scanning, self.read_only, self.clock(), self.effective_interval
        )
        self.dashboard.show_status(state)

    # --- actions ---------------------------------------------------------------------------------------------

    def action_toggle_pause(self) -> None:
        """Pause or resume the refresh."""
        self.paused = not self.paused
        if self.paused:
            self._stop_timer()
        else:
            self.start_scan()
        self.show_status()

    def _set_interval(self, interval: float) -> None:
        self.interval = interval
        if self._timer is not None:
            self._schedule()
        self.show_status()

    def action_faster(self) -> None:
        """Refresh more often."""
        self._set_interval(max((i for i in INTERVALS if i < self.interval), default=INTERVALS[0]))

    def action_slower(self) -> None:
        """Refresh less often."""
        self._set_interval(min((i for i in INTERVALS if i > self.interval), default=INTERVALS[-1]))

    def action_refresh_now(self) -> None:
        self.start_scan()

    def action_help(self) -> None:
        from ipcwatch.tui.screens.help import HelpScreen  # noqa: PLC0415 - on first use

        self.push_screen(HelpScreen(self.all_bindings()))

    def all_bindings(self) -> list[Binding]:
        """Every binding of ours, for the help screen and the command palette."""
        from ipcwatch.tui.widgets.filter_bar import FilterBar  # noqa: PLC0415 - avoid a cycle at import

        return [
            b
            for group in (self.BINDINGS, DashboardScreen.BINDINGS, KeyedTable.BINDINGS, FilterBar.BINDINGS)
            for b in group
            if isinstance(b, Binding)
        ]


def run(read_only: bool, interval: float) -> NoReturn:
    """Open the dashboard on this host; ends the process with its exit code (128 + N after stop signal N).

    Quitting waits at most QUIT_WAIT seconds for work still running in worker threads — a scan (it only reads, and
    on a busy host one takes seconds) or an action (whose own waits have timeouts) — then ends the process. The
    terminal has been restored by then. With IPCWATCH_PROFILE=PATH in the environment, the UI thread runs under
    cProfile (its CPU time) and the stats go to PATH (`python -m pstats PATH`).
    """
    app = IpcwatchApp(scan, read_only=read_only, interval=interval, stop_signals=STOP_SIGNALS)
    loop = asyncio.new_event_loop()
    profile = os.environ.get(PROFILE_ENV)
    profiler = None
    if profile:
        import cProfile  # noqa: PLC0415 - only when profiling

        profiler = cProfile.Profile(time.thread_time)  # the UI thread's CPU, not the scans'
    try:
        if profiler is not None:
            profiler.enable()
        app.run(loop=loop)  # unlike asyncio.run, this does not wait for the worker threads
    finally:
        loop.close()
        if profiler is not None and profile:
            profiler.disable()
            profiler.dump_stats(profile)
    deadline = time.monotonic() + QUIT_WAIT
    for thread in threading.enumerate():
        if thread is not threading.current_thread() and not thread.daemon:
            thread.join(max(0.0, deadline - time.monotonic()))
    for stream in (sys.stdout, sys.stderr):
        stream.flush()
    os._exit(app.return_code or 0)
