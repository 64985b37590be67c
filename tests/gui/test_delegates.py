"""What a chip cell writes after its chip."""

from __future__ import annotations

from ui.widgets.delegates import text_after_chip


def test_the_text_after_a_chip_never_repeats_the_status() -> None:
    assert text_after_chip("published", "Published") == ""
    assert text_after_chip("skipped", "skipped — contact already unassigned") == "contact already unassigned"
    assert text_after_chip("done", "done — unassigned Maya Lee") == "unassigned Maya Lee"
    assert text_after_chip("failed", "contact not found") == "contact not found"
