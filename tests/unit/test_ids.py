"""Ids sort by creation time and are unique within a millisecond."""

from reels_live.core import clock, ids


def test_ids_made_later_sort_after_earlier_ones(frozen_clock):
    first = ids.new_id()
    frozen_clock.advance(ms=1)
    second = ids.new_id()
    assert len(first) == len(second) == 26
    assert first < second


def test_ids_in_one_millisecond_differ(frozen_clock):
    assert len({ids.new_id() for _ in range(1000)}) == 1000


def test_id_encodes_the_clock(frozen_clock):
    value = 0
    for char in ids.new_id()[:10]:
        value = value * 32 + "0123456789ABCDEFGHJKMNPQRSTVWXYZ".index(char)
    assert value == clock.now_ms()
