"""replay: the one function from events to a run's state."""

from __future__ import annotations

import json

import pytest

from dask_bo.events import Event, RunState, check_event, replay

CONFIG = {"settings": {"mode": "async", "evaluations": 4}, "problem": {"name": "p"}}


def ev(kind, t, run="r1", **fields):
    return {"event": Event(kind).value, "run": run, "time": float(t), **fields}


def submitted(i, t, proposal="rule"):
    return ev("submitted", t, id=i, x=[0.1 * i], proposal=proposal, submitted_at=float(t))


def evaluated(i, t, status="ok", proposal="rule", y=None):
    y = (float(i) if y is None else y) if status == "ok" else None
    return ev("evaluated", t, id=i, x=[0.1 * i], y=y, status=status, proposal=proposal,
              submitted_at=t - 1.0, started_at=t - 0.5, finished_at=float(t), duration_s=0.5)


def first_driver(threads=2):
    """Start, two initial points, the driver's start at t=10, capacity, two driven results."""
    return [
        ev("start", 0, config=CONFIG),
        submitted(0, 1, "initial"), submitted(1, 1, "initial"),
        evaluated(0, 2, proposal="initial"), evaluated(1, 3, "failed", proposal="initial"),
        ev("driver_started", 10, started_at=10.0, mode="async", workers=threads, budget=4, dim=1),
        ev("capacity", 10, threads=threads),
        submitted(2, 11), submitted(3, 11),
        evaluated(2, 12), evaluated(3, 13, "timeout"),
        submitted(4, 13),
    ]


def test_event_values_are_plain_strings_in_json():
    assert json.dumps({"event": Event.EVALUATED}) == '{"event": "evaluated"}'
    assert Event("capacity") is Event.CAPACITY and Event.START == "start"


def test_replay_of_an_interrupted_driver():
    events = first_driver() + [ev("interrupted", 14, reason="SIGTERM")]
    state = replay(events)
    assert state.run_id == "r1" and state.config == CONFIG
    assert [r.id for r in state.history] == [0, 1, 2, 3]
    assert [s["id"] for s in state.in_flight] == [4]
    assert state.started_at == 10.0 and state.driver_starts == [10.0]
    assert state.driver["workers"] == 2 and state.driver["budget"] == 4
    assert state.threads == [(10.0, 2)]
    assert state.finished is None
    assert state.interrupted and state.interrupted_reason == "SIGTERM"
    assert state.driven_submitted == 3 and state.driven_failed == 1  # the initial failure is not driven
    assert state.next_id == 5 and state.paused_s == 0.0


def test_a_resumed_run_counts_the_gap_between_drivers_as_paused_with_no_threads():
    events = first_driver() + [
        ev("interrupted", 14, reason="SIGINT"),
        ev("resumed", 114, in_flight=[4], evaluations=4),  # 100 s with no driver
        submitted(4, 115),
        ev("driver_started", 115, started_at=10.0, workers=3),
        ev("capacity", 116, threads=3),
        evaluated(4, 120),
        ev("finished", 121, metrics={"evaluations": 3}),
    ]
    state = replay(events)
    assert state.paused_s == pytest.approx(100.0)
    assert state.threads == [(10.0, 2), (14.0, 0), (114.0, 2), (116.0, 3)]
    assert state.started_at == 10.0  # the first driver's
    assert not state.interrupted and state.finished == {"evaluations": 3}
    assert state.in_flight == [] and [r.id for r in state.history] == [0, 1, 2, 3, 4]
    assert state.driven_submitted == 3


def test_a_driver_start_without_resumed_is_a_new_driver_too():
    events = first_driver() + [ev("driver_started", 50, started_at=50.0), ev("capacity", 50, threads=2)]
    state = replay(events)
    assert state.paused_s == pytest.approx(37.0)  # from the last event (13) to 50
    assert state.started_at == 10.0 and state.driver_starts == [10.0, 50.0]


def test_a_gap_before_the_first_driver_start_is_not_a_pause():
    events = [ev("start", 0, config=CONFIG), submitted(0, 1, "initial"), ev("interrupted", 2),
              ev("resumed", 500, in_flight=[0], evaluations=0), evaluated(0, 501, proposal="initial"),
              ev("driver_started", 502, started_at=502.0)]
    state = replay(events)
    assert state.paused_s == 0.0 and state.started_at == 502.0 and not state.interrupted


def test_finished_counts_only_if_no_driver_resumed_after_it():
    events = first_driver() + [ev("finished", 14, metrics={"evaluations": 2})]
    assert replay(events).finished == {"evaluations": 2}
    resumed = replay(events + [ev("resumed", 20, in_flight=[], evaluations=2)])
    assert resumed.finished is None and resumed.paused_s == pytest.approx(6.0)


def test_records_are_deduplicated_by_id_the_last_one_kept_in_first_place():
    events = [ev("start", 0, config=CONFIG), evaluated(0, 1, "lost"), evaluated(1, 2),
              evaluated(0, 3, y=-1.0)]
    state = replay(events)
    assert [(r.id, r.status, r.y) for r in state.history] == [(0, "ok", -1.0), (1, "ok", 1.0)]


def test_old_journals_without_run_ids_and_unknown_kinds_replay():
    events = [{k: v for k, v in e.items() if k != "run"} for e in first_driver()]
    events.insert(3, {"event": "from-the-future", "time": 2.5, "whatever": 1})
    state = replay(events)
    assert state.run_id is None and len(state.history) == 4 and state.config == CONFIG


def test_events_of_another_run_are_left_out():
    events = first_driver()
    events.insert(4, ev("evaluated", 5, run="intruder", id=9, x=[0.9], y=0.0, status="ok"))
    events.insert(5, ev("start", 5, run="intruder", config={"other": True}))
    state = replay(events)
    assert state.foreign_events == 2 and 9 not in [r.id for r in state.history]
    assert replay(events, run_id="intruder").config == {"other": True}


def test_no_start_leaves_the_config_unset_and_an_empty_replay_is_empty():
    assert replay([submitted(0, 1)]).config is None
    assert replay([]) == RunState()


@pytest.mark.parametrize(
    "event, complaint",
    [
        ("evaluated", "not an event"),
        ({"event": 3}, "not an event"),
        ({"event": "start"}, "is missing 'config'"),
        ({"event": "evaluated", "id": 0, "x": [0.1], "status": "ok", "y": None}, "needs a finite y"),
        ({"event": "submitted", "id": 0, "x": "0.1"}, "expected a number"),
        ({"event": "capacity", "time": 1.0, "threads": 2.5}, "integer 'threads'"),
    ],
)
def test_check_event_says_what_is_wrong(event, complaint):
    assert complaint in check_event(event)


def test_check_event_passes_good_and_unknown_events():
    for e in first_driver() + [ev("finished", 3, metrics={}), {"event": "news"}]:
        assert check_event(e) is None
