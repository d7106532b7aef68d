"""The progress bar: silent when disabled, informative when enabled, and logging-safe."""

from __future__ import annotations

import io
import logging
import sys

import pytest

from dask_bo.history import Evaluation
from dask_bo.progress import Progress

logger = logging.getLogger("dask_bo")


def ev(i, y=None, status="ok", proposal="lp"):
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
def dask_bo_handler():
    """A console handler on the dask_bo logger, writing where the bar writes."""
    buffer = io.StringIO()
    handler = logging.StreamHandler(buffer)
    handler.setFormatter(logging.Formatter("LOG %(message)s"))
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    yield buffer, handler
    logger.removeHandler(handler)
    logger.setLevel(level)


def test_logs_go_above_the_bar_and_logging_is_restored_on_close(dask_bo_handler):
    buffer, handler = dask_bo_handler
    progress = Progress(5, description="async toy", file=buffer)
    progress.update(ev(1, 2.5), in_flight=2)
    logger.warning("evaluation 7 failed: boom")
    progress.update(ev(2, 1.5), in_flight=2)
    text = buffer.getvalue()
    before, after = text.split("LOG evaluation 7 failed: boom\n")
    # The bar was cleared before the message (so the message starts its own line)...
    assert before.endswith("\r") and before.rstrip("\r").endswith(" ")
    # ...and drawn again below it, still counting.
    assert after.startswith("\rasync toy:") and "2/5" in last_frame(after)
    progress.close()
    assert handler.stream is buffer
    logger.info("after the bar")
    assert buffer.getvalue().endswith("\nLOG after the bar\n")


def test_root_console_logs_go_above_the_bar(capsys):
    handler = logging.StreamHandler(sys.stderr)  # capsys's stderr: a console stream
    logging.root.addHandler(handler)
    try:
        buffer = io.StringIO()
        progress = Progress(3, description="sync", file=buffer)
        assert handler.stream is not sys.stderr  # swapped while the bar is open
        logger.warning("worker lost")
        progress.close()
        assert handler.stream is sys.stderr
    finally:
        logging.root.removeHandler(handler)
    assert "worker lost\n" in capsys.readouterr().err


def test_logging_last_resort_goes_above_the_bar(capsys):
    propagate = logger.propagate
    logger.propagate = False  # no handler anywhere: logging falls back to its last resort
    last_resort = logging.lastResort
    try:
        progress = Progress(3, description="sync", file=io.StringIO())
        assert logging.lastResort is not last_resort
        logger.warning("no handlers configured")
        progress.close()
        assert logging.lastResort is last_resort
    finally:
        logger.propagate = propagate
        logging.lastResort = last_resort
    assert "no handlers configured\n" in capsys.readouterr().err


def test_closing_twice_is_harmless():
    buffer = io.StringIO()
    progress = Progress(2, file=buffer)
    progress.close()
    progress.close()
    assert buffer.getvalue().count("\n") == 1
