from __future__ import annotations

import pytest

from app.domain.errors import ValidationFailed
from app.platform.identifiers import contact_identifier, path_segment


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        (42, "id:42"),
        (0, "id:0"),
        ("id:42", "id:42"),
        (" ID: 0042 ", "id:42"),
        ("email:maya.tan@example.com", "email:maya.tan@example.com"),
        ("Email:Maya+vip@Example.com", "email:Maya+vip@Example.com"),
        ("phone:+60 12-345 6789", "phone:+60123456789"),
        ("phone:(+1) 415.555.0100", "phone:+14155550100"),
        ("phone:60123456789", "phone:60123456789"),
    ],
)
def test_valid_identifiers_are_normalised(given: int | str, expected: str) -> None:
    assert contact_identifier(given) == expected


@pytest.mark.parametrize(
    "given",
    [-1, True, "42", "id:", "id:abc", "id:1/../2", "email:nobody", "email:a@b", "email:a/b@c.d", "phone:+12", "fax:1"],
)
def test_anything_else_is_refused_before_a_request(given: object) -> None:
    with pytest.raises(ValidationFailed):
        contact_identifier(given)  # type: ignore[arg-type]


def test_path_segment_keeps_colon_at_and_plus_and_quotes_the_rest() -> None:
    assert path_segment("phone:+60123456789") == "phone:+60123456789"
    assert path_segment("email:o'neil%x@example.com") == "email:o%27neil%25x@example.com"
    assert path_segment(7) == "id:7"
