"""Interrupts: what a signal does in each phase, and how the applier stops writing.

The signal handler is driven directly (no real signal, no real exit): the end-to-end behaviour
of the real CLI under SIGINT and SIGTERM is in tests/e2e/test_interrupts.py.
"""

from __future__ import annotations

import io
import signal
import threading

import pytest

from reconciler.apply.applier import apply_plan, results_summary, results_table
from reconciler.core import interrupt
from reconciler.core.interrupt import Interrupts
from reconciler.plan.differ import diff_project
from reconciler.plan.model import Plan
from tests.support.plan_helpers import FakeSentry, http, project


class Exited(Exception):
    def __init__(self, code: int) -> None:
        super().__init__(code)
        self.code = code


def _exit(code: int) -> None:
    raise Exited(code)


class Clock:
    """A clock the test moves by hand: the burst window is decided without waiting."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def _interrupts(what: str = "plan", clock: Clock | None = None) -> tuple[Interrupts, list[str]]:
    said: list[str] = []
    clock = clock or Clock()
    interrupts = Interrupts(what=what, write=said.append, exit=_exit, clock=clock)
    return interrupts, said


def _spaced(interrupts: Interrupts, clock: Clock, *signums: int, gap: float = 5.0) -> None:
    for signum in signums:
        interrupts.handle(signum)
        clock.now += gap


@pytest.mark.parametrize(("signum", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_before_any_write_a_signal_exits_at_once_saying_nothing_was_written(signum, code):
    interrupts, said = _interrupts("plan")
    with pytest.raises(Exited) as exited:
        interrupts.handle(signum)
    assert exited.value.code == code
    assert said == [f"{signum.name}: plan stopped; nothing was written."]


def test_while_writing_the_first_signal_only_sets_the_stop_event():
    interrupts, said = _interrupts("apply")
    stop = interrupts.begin_writes()
    assert not stop.is_set()
    interrupts.handle(signal.SIGTERM)  # returns: the writes in flight go on
    assert stop.is_set()
    assert interrupts.signum == signal.SIGTERM and interrupts.exit_code == 143
    assert "no new write starts" in said[0] and "Ctrl-C again" in said[0]


def test_a_second_signal_exits_at_once():
    clock = Clock()
    interrupts, said = _interrupts("apply", clock)
    interrupts.begin_writes()
    _spaced(interrupts, clock, signal.SIGINT)
    with pytest.raises(Exited) as exited:
        interrupts.handle(signal.SIGINT)
    assert exited.value.code == 130
    assert said[-1].startswith("SIGINT again: exiting at once")
    assert "symsync plan" in said[-1]


def test_a_second_sigint_within_the_burst_window_is_the_same_interrupt():
    clock = Clock()
    interrupts, said = _interrupts("apply", clock)
    interrupts.begin_writes()
    interrupts.handle(signal.SIGINT)
    clock.now += 0.999  # `timeout -s INT`, a process-group kill: the same signal, again
    interrupts.handle(signal.SIGINT)  # returns: no exit
    assert interrupts.exit_code == 130 and len(said) == 1
    clock.now += 1.5  # a person pressing Ctrl-C again, later: exit at once
    with pytest.raises(Exited):
        interrupts.handle(signal.SIGINT)


def test_sigterm_after_sigint_keeps_the_first_handling_whenever_it_comes():
    clock = Clock()
    interrupts, said = _interrupts("apply", clock)
    interrupts.begin_writes()
    interrupts.handle(signal.SIGINT)
    clock.now += 7.5  # a CI runner's cancel: SIGINT, then SIGTERM some seconds later
    interrupts.handle(signal.SIGTERM)  # returns: the writes in flight still finish
    assert interrupts.exit_code == 130
    assert "the same interrupt" in said[-1]


def test_before_writes_a_burst_exits_once():
    clock = Clock()
    interrupts, said = _interrupts("plan", clock)
    with pytest.raises(Exited):
        interrupts.handle(signal.SIGINT)
    assert len(said) == 1


def test_a_signal_while_a_file_is_written_takes_effect_when_it_is_complete():
    interrupts, said = _interrupts("import")
    steps: list[str] = []
    with pytest.raises(Exited) as exited, interrupts.deferred("the project files were written"):
        steps.append("first file")
        interrupts.handle(signal.SIGINT)
        steps.append("second file")  # still written: the handler returned
    assert steps == ["first file", "second file"]
    assert exited.value.code == 130
    assert said[-1] == "SIGINT: import stopped after the project files were written."


def test_without_a_signal_a_deferred_block_just_runs():
    interrupts, said = _interrupts()
    with interrupts.deferred():
        pass
    assert said == [] and interrupts.exit_code is None


def test_before_each_message_a_display_hears_whether_the_process_exits():
    interrupts, said = _interrupts("apply")
    heard: list[tuple[bool, int]] = []
    remove = interrupts.before_message(lambda exiting: heard.append((exiting, len(said))))

    def broken(exiting: bool) -> None:
        raise OSError("the terminal is gone")

    interrupts.before_message(broken)  # its failure does not keep the message back
    interrupts.begin_writes()
    interrupts._clock = clock = Clock()
    _spaced(interrupts, clock, signal.SIGINT)
    with pytest.raises(Exited):
        interrupts.handle(signal.SIGINT)
    # Each time before the message is written: first the run goes on, then it exits.
    assert heard == [(False, 0), (True, 1)]
    assert len(said) == 2
    remove()
    remove()  # a second removal is harmless
    with pytest.raises(Exited):
        interrupts.handle(signal.SIGINT)
    assert len(heard) == 2


def test_without_a_handler_before_message_does_nothing():
    assert interrupt.current() is None
    interrupt.before_message(lambda exiting: None)()


def test_handling_installs_for_the_command_only_and_restores():
    before = signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)
    with interrupt.handling("plan") as interrupts:
        assert signal.getsignal(signal.SIGINT) == interrupts.handle
        assert signal.getsignal(signal.SIGTERM) == interrupts.handle
        assert interrupt.current() is interrupts
    assert (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)) == before
    assert interrupt.current() is None


# ----------------------------------------------------------------------------- the applier


class StoppingFake(FakeSentry):
    """Sets ``stop`` while its ``at``-th write is in flight, as a signal would."""

    def __init__(self, projects, stop: threading.Event, at: int) -> None:
        super().__init__(projects)
        self.stop = stop
        self.at = at
        self.writes = 0

    def create_source(self, org, project, body):
        with self._lock:
            self.writes += 1
            if self.writes == self.at:
                self.stop.set()
        return super().create_source(org, project, body)


def _plan(fake: FakeSentry, configs) -> Plan:
    return Plan(
        projects=tuple(
            diff_project(c, fake.list_sources(c.organization, c.project)) for c in configs
        )
    )


def test_no_write_starts_once_stop_is_set_and_the_one_in_flight_counts():
    stop = threading.Event()
    fake = StoppingFake({"a/first": [], "a/second": []}, stop, at=2)
    configs = [
        project("a", "first", [http("s1"), http("s2"), http("s3"), http("s4")]),
        project("a", "second", [http("t1"), http("t2")]),
    ]
    plan = _plan(fake, configs)
    fake.calls.clear()
    result = apply_plan(
        plan, fake, verify=False, parallelism=1, env={}, stop=stop, signal=lambda: 2
    )
    first, second = sorted(result.projects, key=lambda r: r.key)
    # The write in flight when the stop came (s2) finished; s3 and s4 never started.
    assert [c[3]["id"] for c in fake.calls if c[1] == "a/first"] == ["s1", "s2"]
    assert (first.status, first.done, first.total) == ("interrupted", 2, 4)
    assert first.written == ("create s1", "create s2")
    assert first.not_written == ("create s3", "create s4")
    assert "interrupted after 2 of 4 writes" in first.message
    assert "not written: create s3, create s4" in first.message
    assert not [c for c in fake.calls if c[1] == "a/second"]
    assert (second.status, second.done) == ("not started", 0)
    assert second.not_written == ("create t1", "create t2")
    assert result.signal == 2 and result.exit_code == 130
    # What remains is exactly what a new plan shows.
    remaining = _plan(fake, configs)
    assert [
        (p.key, [f"{c.action} {c.source_id}" for c in p.changes]) for p in remaining.projects
    ] == [
        ("a/first", list(first.not_written)),
        ("a/second", list(second.not_written)),
    ]


def test_stop_set_before_apply_reads_nothing_and_writes_nothing():
    stop = threading.Event()
    stop.set()
    fake = FakeSentry({"a/x": []})
    plan = Plan.loads(_plan(fake, [project("a", "x", [http("p")])]).dumps())
    fake.calls.clear()
    result = apply_plan(plan, fake, verify=True, env={}, stop=stop, signal=lambda: 15)
    assert fake.calls == []  # not even the saved plan's check
    assert result.projects[0].status == "not started"
    assert result.exit_code == 143


def test_a_project_whose_last_write_was_in_flight_is_applied_but_the_run_still_exits_130():
    stop = threading.Event()
    fake = StoppingFake({"a/x": []}, stop, at=1)
    plan = _plan(fake, [project("a", "x", [http("only")])])
    result = apply_plan(plan, fake, verify=False, env={}, stop=stop, signal=lambda: 2)
    assert result.projects[0].status == "applied"
    assert result.exit_code == 130


def test_the_table_and_summary_name_the_interrupted_and_not_started_projects():
    stop = threading.Event()
    fake = StoppingFake({"a/first": [], "a/second": []}, stop, at=1)
    configs = [project("a", "first", [http("s1"), http("s2")]), project("a", "second", [http("t")])]
    result = apply_plan(
        _plan(fake, configs), fake, verify=False, parallelism=1, env={}, stop=stop,
        signal=lambda: 2,
    )  # fmt: skip
    from rich.console import Console

    console = Console(width=200, record=True, file=io.StringIO())
    console.print(results_table(result))
    text = console.export_text()
    assert "interrupted" in text and "not started" in text
    assert "written: create s1; not written: create s2" in text
    summary = results_summary(result)
    assert "1 interrupted, 1 not started." in summary
    assert "Stopped by SIGINT after finishing the writes in flight" in summary


def test_without_a_signal_the_summary_is_unchanged():
    fake = FakeSentry({"a/x": []})
    result = apply_plan(_plan(fake, [project("a", "x", [http("p")])]), fake, verify=False, env={})
    assert results_summary(result) == "Apply: 1 applied, 0 unchanged, 0 failed, 0 refused."


# ----------------------------------------------------------------------------- the client


def test_once_stopped_the_client_retries_nothing_and_settles_an_uncertain_write_with_one_read():
    from reconciler.sentry.client import SentryAPIError, SentryClient
    from tests.support.fake_sentry import FakeTime, Reply, fake_sentry

    ftime = FakeTime()
    stop = threading.Event()
    with fake_sentry() as fake, SentryClient(fake.url, "token", **ftime.kwargs()) as client:
        client.stop_retrying_on(stop)
        stop.set()  # the signal came while this write was on its way
        fake.add(Reply(503), Reply(200, []))
        with pytest.raises(SentryAPIError) as failed:
            client.create_source("acme", "ios", http("new"))
        assert failed.value.uncertain  # reported as "may have been written"
        assert fake.methods() == ["POST", "GET"]  # no retry; one read to settle it
        assert fake.requests[1].query == {"id": ["new"]}
        assert ftime.sleeps == []
