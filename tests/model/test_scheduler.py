"""Queue policy without torch: round-robin across rooms, positions, limits, cancellation."""

from __future__ import annotations

import pytest

from model.errors import QueueFull, TooManyRequests
from model.scheduler import Job, JobState, Scheduler


def job(room: int, user: int, size: int = 1) -> Job:
    return Job(room_id=room, user_id=user, size=size)


def test_rooms_take_turns_whatever_order_they_asked_in() -> None:
    scheduler = Scheduler(per_user=10)
    a1, a2, a3 = job(1, 10), job(1, 11), job(1, 12)
    b1, c1 = job(2, 20), job(3, 30)
    for j in (a1, a2, a3, b1, c1):
        scheduler.add(j)
    assert [scheduler.position(j) for j in (a1, b1, c1, a2, a3)] == [1, 2, 3, 4, 5]
    assert scheduler.take(free_slots=3) == [a1, b1, c1]
    assert scheduler.take(free_slots=10) == [a2, a3]


def test_a_request_that_does_not_fit_is_not_overtaken() -> None:
    scheduler = Scheduler(per_user=10)
    big, small = job(1, 1, size=4), job(2, 2, size=1)
    scheduler.add(big)
    scheduler.add(small)
    assert scheduler.take(free_slots=3) == []
    assert scheduler.take(free_slots=5) == [big, small]


def test_positions_move_up_as_requests_start() -> None:
    scheduler = Scheduler()
    first, second = job(1, 1), job(2, 2)
    scheduler.add(first)
    scheduler.add(second)
    assert scheduler.position(second) == 2
    scheduler.take(free_slots=1)
    assert scheduler.position(first) == 0
    assert first.state is JobState.RUNNING
    assert scheduler.position(second) == 1


def test_a_writer_may_not_pile_up_requests() -> None:
    scheduler = Scheduler(per_user=2)
    scheduler.add(job(1, 7))
    running = job(2, 7)
    scheduler.add(running)
    with pytest.raises(TooManyRequests) as error:
        scheduler.add(job(3, 7))
    assert str(error.value) == (
        "You already have 2 requests waiting for the model; "
        "wait for one to finish before asking again."
    )
    scheduler.add(job(3, 8))  # another writer is not affected
    scheduler.take(free_slots=2)
    scheduler.finish(running)
    scheduler.add(job(3, 7))


def test_the_waiting_line_is_bounded() -> None:
    scheduler = Scheduler(max_waiting=2, per_user=10)
    scheduler.add(job(1, 1))
    scheduler.add(job(2, 2))
    with pytest.raises(QueueFull) as error:
        scheduler.add(job(3, 3))
    assert "busy" in str(error.value) and "try again" in str(error.value)
    scheduler.take(free_slots=1)
    scheduler.add(job(3, 3))


def test_cancelling_a_waiting_request_frees_its_place_and_its_writer() -> None:
    scheduler = Scheduler(per_user=1)
    first, second = job(1, 1), job(1, 2)
    scheduler.add(first)
    scheduler.add(second)
    assert scheduler.cancel(first)
    assert scheduler.position(second) == 1
    assert scheduler.waiting == 1
    scheduler.add(job(2, 1))  # the writer of the cancelled request may ask again
    assert scheduler.take(free_slots=1) == [second]
    assert not scheduler.cancel(second)  # running: the executor must stop it
