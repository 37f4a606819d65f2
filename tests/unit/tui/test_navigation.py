"""The dashboard's navigation and selection as plain classes (ipcwatch.tui.navigation): no App, no terminal."""

from __future__ import annotations

from ipcwatch.tui.navigation import History, HolderCycle, Pane, Place, Selection, pane_of
from ipcwatch.tui.widgets.rows import ALL, BLOCKED, CONTAINERS, PROCESSES, build_rows
from tests.tui_fixtures import recorded_snapshot


def test_pane_is_decided_once_from_the_view_and_the_focus() -> None:
    assert pane_of(ALL, False) is Pane.OBJECTS
    assert pane_of("sysv-shm", True) is Pane.OBJECTS  # the held table only counts in the process view
    assert pane_of(PROCESSES, False) is Pane.PROCESSES
    assert pane_of(PROCESSES, True) is Pane.HELD
    assert pane_of(BLOCKED, False) is Pane.BLOCKED
    assert pane_of(CONTAINERS, False) is Pane.CONTAINERS


def test_history_goes_back_and_forward_like_a_browser() -> None:
    history = History()
    a, b, c = Place(ALL, "sysv-shm:3"), Place(PROCESSES, "101"), Place("sysv-shm", "sysv-shm:3")
    assert history.back(a) is None and history.forward(a) is None
    history.leave(a)  # a -> b
    history.leave(b)  # b -> c
    assert history.back(c) == b
    assert history.back(b) == a
    assert not history.can_go_back and history.can_go_forward
    assert history.forward(a) == b
    assert history.forward(b) == c
    assert history.forward(c) is None
    history.back(c)
    history.leave(b)  # a new jump from b forgets what lay ahead
    assert not history.can_go_forward and history.back(c) == b


def test_history_keeps_the_newest_places_only() -> None:
    history = History(limit=3)
    for n in range(10):
        history.leave(Place(ALL, str(n)))
    here = Place(ALL, "here")
    assert [history.back(here) for _ in range(4)] == [Place(ALL, "9"), Place(ALL, "8"), Place(ALL, "7"), None]


def test_holder_cycle_turns_through_the_holders_of_one_object() -> None:
    cycle = HolderCycle()
    pids = [101, 102, 201]
    assert [cycle.next("sysv-shm:3", pids) for _ in range(4)] == [0, 1, 2, 0]
    assert cycle.next("posix-sem:lock", [101, 201]) == 0  # another object starts again
    assert cycle.next("sysv-shm:3", pids) == 0
    assert cycle.next("sysv-shm:3", []) == 0


def test_selection_designates_objects_processes_and_blocked_threads() -> None:
    snapshot = recorded_snapshot()
    rows = build_rows(snapshot)
    blocked_key = next(iter(rows.blocked))
    in_all = Selection(ALL, key="sysv-shm:3")
    assert in_all.target_object(snapshot) is snapshot.get("sysv-shm:3")
    assert in_all.pid(rows.blocked) is None and in_all.target_process(snapshot, rows.blocked) is None
    # the process view: the process table acts on the process, the held table (when focused) on its object
    procs = Selection(PROCESSES, held_focused=False, key="101", held_key="sysv-shm:3")
    assert procs.pane is Pane.PROCESSES
    assert procs.target_process(snapshot, rows.blocked) is snapshot.processes[101]
    assert procs.target_object(snapshot) is None
    assert procs.object(snapshot) is snapshot.get("sysv-shm:3")  # shown, not acted on
    held = Selection(PROCESSES, held_focused=True, key="101", held_key="sysv-shm:3")
    assert held.target_object(snapshot) is snapshot.get("sysv-shm:3")
    assert held.target_process(snapshot, rows.blocked) is None and held.pid(rows.blocked) == 101
    # a blocked thread: its process, never an object
    waiting = Selection(BLOCKED, key=blocked_key)
    thread = rows.blocked[blocked_key]
    assert waiting.blocked(rows.blocked) is thread and waiting.pid(rows.blocked) == thread.pid
    assert waiting.object(snapshot) is None and waiting.target_object(snapshot) is None
    # nothing under the cursor, or a row that has gone
    assert Selection(ALL).target_object(snapshot) is None
    assert Selection(ALL, key="sysv-shm:999").target_object(snapshot) is None
    assert Selection(BLOCKED, key="1/1").blocked(rows.blocked) is None
    assert Selection(CONTAINERS, key="host").object(snapshot) is None
