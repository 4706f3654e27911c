"""The one checker the reliability suite trusts: lost, duplicated, reordered per chat."""

from __future__ import annotations

from local.reliability.checker import check_chat, total


def test_a_perfect_chat() -> None:
    result = check_chat(["a", "b", "c"], ["hello", "a", "b", "note", "c"])
    assert (result.delivered, result.lost, result.duplicated, result.reordered) == (3, 0, 0, 0)


def test_lost_duplicated_and_reordered_are_told_apart() -> None:
    result = check_chat(["a", "b", "c", "d"], ["b", "a", "a", "d"])
    assert result.lost == 1  # c
    assert result.duplicated == 1  # a twice
    assert result.reordered == 1  # a must move back before b
    assert result.delivered == 3


def test_reordering_counts_the_fewest_moves() -> None:
    assert check_chat(list("abcdef"), list("fabcde")).reordered == 1
    assert check_chat(list("abcdef"), list("fedcba")).reordered == 5


def test_totals_add_up() -> None:
    summed = total([check_chat(["a"], []), check_chat(["b", "c"], ["c", "b", "b"])])
    assert (summed.expected, summed.lost, summed.duplicated, summed.reordered) == (3, 1, 1, 1)
