"""The progress bar: silent when disabled, informative when enabled, and logging-safe."""

from __future__ import annotations

import io
import logging
import sys

import pytest

from dask_bo import Evaluation
from dask_bo.progress import EVENT_TOPIC, Event, Progress, Publisher, event_kind

logger = logging.getLogger("dask_bo")


def ev(i, y=None, status="ok", proposal="rule"):
    return Evaluation(id=i, x=(0.1 * i, 0.2), y=y if status == "ok" else None, status=status,
                      proposal=proposal)


def last_frame(text: str) -> str:
    """What a terminal shows last: the text after the last carriage return, stripped."""
    return text.rstrip("\n").rsplit("\r", 1)[-1].strip()


def test_a_disabled_progress_writes_nothing(capfd):
    buffer = io.StringIO()
    progress = Progress(5, enabled=False, description="async toy", file=buffer)
    progress.update(ev(1, 2.5), in_flight=2)
    progress.update(ev(2, status="failed"), in_flight=1)
    progress.close()
    assert buffer.getvalue() == ""
    out, err = capfd.readouterr()
    assert (out, err) == ("", "")
    # It still keeps the counts, so callers need never check whether it is enabled.
    assert progress.best == 2.5 and progress.failed == 1


def test_a_text_bar_shows_done_in_flight_failures_and_best():
    buffer = io.StringIO()
    progress = Progress(5, description="async toy", file=buffer)
    assert "in flight 0, failed 0, best -" in buffer.getvalue()
    progress.update(ev(1, 2.5), in_flight=2)
    progress.update(ev(2, 0.75), in_flight=2)
    frame = last_frame(buffer.getvalue())
    assert frame.startswith("async toy:") and "2/5" in frame
    assert "in flight 2, failed 0, best 0.75" in frame
    progress.update(ev(3, status="failed"), in_flight=1)
    frame = last_frame(buffer.getvalue())
    assert "3/5" in frame and "in flight 1, failed 1, best 0.75" in frame
    progress.update(ev(4, 9.0), in_flight=0, counted=False)  # shown, not counted
    frame = last_frame(buffer.getvalue())
    assert "3/5" in frame and "in flight 0" in frame and "best 0.75" in frame
    progress.close()
    assert buffer.getvalue().endswith("\n")  # the bar stays on screen


def test_a_resumed_bar_starts_at_initial():
    buffer = io.StringIO()
    progress = Progress(10, description="sync", initial=4, file=buffer)
    progress.update(ev(5, 1.0), in_flight=0)
    progress.close()
    assert "5/10" in last_frame(buffer.getvalue())


@pytest.fixture
def clean_logging():
    """The dask_bo logger with no handler of its own and its level, restored afterwards."""
    handlers, level, propagate = list(logger.handlers), logger.level, logger.propagate
    logger.handlers = []
    yield
    logger.handlers, logger.level, logger.propagate = handlers, level, propagate


def test_the_dask_bo_console_handler_writes_above_the_bar_and_is_restored(clean_logging, capsys):
    handler = logging.StreamHandler(sys.stderr)  # capsys's stderr: a console stream
    handler.setFormatter(logging.Formatter("LOG %(message)s"))
    handler.setLevel(logging.INFO)
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    progress = Progress(5, description="async toy", file=sys.stderr)
    assert handler not in logger.handlers  # swapped while the bar is open
    progress.update(ev(1, 2.5), in_flight=2)
    logger.debug("below the handler's level: not shown")
    logger.warning("evaluation 7 failed: boom")
    progress.update(ev(2, 1.5), in_flight=2)
    progress.close()
    assert logger.handlers == [handler]
    logger.info("after the bar")
    err = capsys.readouterr().err
    before, after = err.split("LOG evaluation 7 failed: boom\n")
    # The bar was cleared before the message (so the message starts its own line)...
    assert before.endswith("\r") and before.rstrip("\r").endswith(" ")
    # ...and drawn again below it, still counting; its own formatter was kept.
    assert after.startswith("\rasync toy:") and "2/5" in after
    assert err.endswith("\nLOG after the bar\n")
    assert "not shown" not in err


def test_root_handlers_and_last_resort_are_left_alone(clean_logging, capsys):
    root_handler = logging.StreamHandler(sys.stderr)
    logging.root.addHandler(root_handler)
    root_before, last_resort = list(logging.root.handlers), logging.lastResort
    try:
        progress = Progress(3, description="sync", file=sys.stderr)
        # The application routes dask_bo's records through the root logger: not ours to swap.
        assert logging.root.handlers == root_before and root_handler.stream is sys.stderr
        assert logger.handlers == [] and logging.lastResort is last_resort
        logger.warning("worker lost")
        progress.close()
        assert logging.root.handlers == root_before and logging.lastResort is last_resort
    finally:
        logging.root.removeHandler(root_handler)
    assert capsys.readouterr().err.count("worker lost\n") == 1


def test_with_no_handler_anywhere_warnings_go_above_the_bar_without_touching_last_resort(
        clean_logging, capsys):
    logger.propagate = False  # no handler anywhere: logging would use its last resort
    last_resort, last_resort_stream = logging.lastResort, getattr(logging.lastResort, "stream", None)
    progress = Progress(3, description="sync", file=sys.stderr)
    assert logging.lastResort is last_resort
    assert getattr(logging.lastResort, "stream", None) is last_resort_stream
    logger.warning("no handlers configured")
    logger.info("not shown: the last resort's level is WARNING")
    progress.update(ev(1, 1.0), in_flight=0)
    progress.close()
    assert logger.handlers == [] and logging.lastResort is last_resort
    err = capsys.readouterr().err
    assert "no handlers configured\n" in err and "not shown" not in err
    assert err.index("no handlers configured") < err.index("1/3")  # above the redrawn bar


def test_in_flight_is_shown_as_the_caller_counts_it():
    buffer = io.StringIO()
    progress = Progress(5, description="async", file=buffer)
    progress.update(ev(1, 1.0), in_flight=2)  # counted before the loop refilled...
    assert "in flight 2" in last_frame(buffer.getvalue())
    progress.set_in_flight(3)  # ...and after: nothing counted
    frame = last_frame(buffer.getvalue())
    assert "in flight 3" in frame and "1/5" in frame
    assert progress.in_flight == 3
    progress.close()


def test_the_best_value_follows_the_direction():
    progress = Progress(3, enabled=False, direction="maximize")
    for i, y in enumerate((1.0, 4.0, 2.0)):
        progress.update(ev(i, y), in_flight=0)
    assert progress.best == 4.0
    with pytest.raises(ValueError, match="expected direction 'minimize' or 'maximize', got 'max'"):
        Progress(3, enabled=False, direction="max")


class _Recorder:
    """Stands in for a Client: keeps what log_event got (the real path is in test_dashboard)."""

    def __init__(self):
        self.sent = []

    def log_event(self, topic, msg):
        self.sent.append((topic, msg))


def test_publisher_events_use_the_one_vocabulary():
    client = _Recorder()
    publisher = Publisher(client, "run-1", clock=lambda: 123.0)
    publisher.publish(Event.DRIVER_STARTED, mode="async")
    publisher.publish("evaluated", id=3)
    publisher.publish("started", mode="sync")  # the old spelling, still understood
    with pytest.raises(ValueError, match="expected an event kind among .*, got 'begun'"):
        publisher.publish("begun")
    publisher.close()
    assert client.sent == [
        (EVENT_TOPIC, {"event": "driver_started", "run": "run-1", "time": 123.0, "mode": "async"}),
        (EVENT_TOPIC, {"event": "evaluated", "run": "run-1", "time": 123.0, "id": 3}),
        (EVENT_TOPIC, {"event": "driver_started", "run": "run-1", "time": 123.0, "mode": "sync"}),
    ]
    assert event_kind({"kind": "started"}) is Event.DRIVER_STARTED
    assert event_kind({"event": "finished"}) is Event.FINISHED
    assert event_kind({"event": "nonsense"}) is None and event_kind({}) is None
    assert {e.value for e in Event} == {"start", "driver_started", "submitted", "evaluated",
                                        "capacity", "interrupted", "resumed", "finished"}


def test_closing_twice_is_harmless():
    buffer = io.StringIO()
    progress = Progress(2, file=buffer)
    progress.close()
    progress.close()
    assert buffer.getvalue().count("\n") == 1
