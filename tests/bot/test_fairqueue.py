"""Round robin across users, FIFO within a user."""

from hypothesis import given
from hypothesis import strategies as st

from bot.fairqueue import FairQueue, eta_seconds


def test_one_users_burst_does_not_starve_others():
    q = FairQueue()
    for job in range(1, 11):
        q.push(job, user=1)  # user 1 floods the queue
    q.push(100, user=2)
    q.push(200, user=3)
    assert q.position(100) == 2 and q.position(200) == 3
    served = [q.pop() for _ in range(4)]
    assert served == [1, 100, 200, 2]


def test_remove_and_duplicates():
    q = FairQueue()
    q.push(1, 5)
    q.push(1, 5)
    q.push(2, 5)
    assert len(q) == 2 and q.remove(1) and not q.remove(1)
    assert q.pop() == 2 and q.pop() is None and q.position(2) is None


@given(st.lists(st.tuples(st.integers(0, 200), st.integers(0, 4)), max_size=60))
def test_order_is_exactly_what_pop_serves(pushes):
    q = FairQueue()
    for job, user in pushes:
        q.push(job, user)
    predicted = q.order()
    assert [q.position(j) for j in predicted] == list(range(1, len(predicted) + 1))
    assert [q.pop() for _ in predicted] == predicted
    assert len(q) == 0


def test_eta_counts_rounds_of_workers():
    assert eta_seconds(1, 2.0, 4) == 2.0
    assert eta_seconds(5, 2.0, 4) == 4.0
