"""Title matching as a collector would call it: folding, tiers, years, popularity, candidates."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from tracker.commands.matching import best_match, fold, no_match_reason, search_query


@dataclass
class Hit:
    """A search hit shaped like TMDB's SearchResult."""

    id: int
    title: str
    year: int | None
    popularity: float = 1.0
    original_title: str = ""


@pytest.mark.parametrize("typed, catalogued", [
    ("Amelie", "Amélie"), ("Matrix", "The Matrix"), ("Matrix, The", "The Matrix"),
    ("leon the professional", "Léon: The Professional"), ("Samourai", "Le Samouraï"),
    ("Auberge espagnole", "L'Auberge espagnole"), ("Wall-E", "WALL·E"), ("Fast and Furious", "Fast & Furious"),
    ("Boot", "Das Boot"), ("Labyrinth of Passion", "El Labyrinth of Passion"), ("Its a Wonderful Life",
                                                                                  "It's a Wonderful Life"),
])
def test_titles_fold_to_the_same_text(typed: str, catalogued: str) -> None:
    """Case, accents, punctuation and a leading (or trailing ", The") article do not matter."""
    assert fold(typed) == fold(catalogued)


def test_different_titles_stay_different() -> None:
    """Folding keeps words: a sequel or a longer title is not the same film."""
    assert fold("Alien") != fold("Aliens")
    assert fold("The Godfather") != fold("The Godfather Part II")
    assert fold("A") == "a"  # a title that is only an article keeps it


def test_the_title_as_typed_wins_over_one_equal_only_once_folded() -> None:
    """An exact title beats a folded-equal one even when the folded one is more popular."""
    hits = [Hit(1, "Hard", 2001, popularity=90.0), Hit(2, "Die Hard", 1988, popularity=10.0)]
    assert best_match(hits, "Die Hard", None).id == 2
    assert best_match(hits, "Hard", None).id == 1


def test_the_year_decides_and_without_it_the_most_popular() -> None:
    """With a year, only hits of that year; without one, the most popular equal title."""
    hits = [Hit(841, "Dune", 1984, 40.0), Hit(438631, "Dune", 2021, 120.0), Hit(9, "Dune World", 2021, 500.0)]
    assert best_match(hits, "Dune", 1984).id == 841
    assert best_match(hits, "Dune", None).id == 438631
    assert best_match(hits, "Dune", 1999) is None


def test_the_original_title_counts() -> None:
    """A film found by its original title matches."""
    hits = [Hit(194, "Amélie", 2001, original_title="Le Fabuleux Destin d'Amélie Poulain")]
    assert best_match(hits, "Fabuleux destin d'Amelie Poulain", 2001).id == 194


def test_no_match_names_the_best_candidates() -> None:
    """The reason names up to three candidates, the closest titles first, with year and id."""
    hits = [Hit(1, "Heat Wave", 1990, 5.0), Hit(949, "Heat", 1995, 50.0), Hit(2, "Heatstroke", None, 9.0),
            Hit(3, "Red Heat", 1988, 30.0)]
    reason = no_match_reason("Heat", 1996, hits)
    assert reason == ("no TMDB title equal to 'Heat' (1996); candidates: Heat (1995, TMDB 949); "
                      "Red Heat (1988, TMDB 3); Heat Wave (1990, TMDB 1)")
    assert no_match_reason("Zzz", None, []) == "no TMDB title equal to 'Zzz'; TMDB found nothing for it"


def test_a_trailing_article_is_put_back_in_front_for_the_search() -> None:
    """"Matrix, The" is searched as "The Matrix"; other titles as typed."""
    assert search_query("Matrix, The") == "The Matrix"
    assert search_query("Crouching Tiger, Hidden Dragon") == "Crouching Tiger, Hidden Dragon"
