"""Quality checks on each translated turn, giving reason codes.

Each check is a small function from (source, output, role) to an optional reason. A record with any reason gets a
verdict of "rejected"; the policy (`--on-reject`) decides where it goes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from translate.protect import image_layout


@dataclass(frozen=True, slots=True)
class Reason:
    code: str
    field: str
    detail: str

    def as_dict(self) -> dict[str, Any]:
        return {"code": self.code, "field": self.field, "detail": self.detail}


class QualityChecker:
    """Runs the enabled checks on one turn. `settings` may switch checks off: {"empty_output": False, ...}."""

    def __init__(self, target_lang: str, settings: dict[str, Any] | None = None):
        self.target_lang = target_lang
        self.settings = dict(settings or {})

    def enabled(self, name: str) -> bool:
        return bool(self.settings.get(name, True))

    def check_turn(self, source: str, output: str, role: str, field: str) -> list[Reason]:
        reasons: list[Reason] = []
        # The <image> check cannot be switched off: a lost token silently turns an image record into a text one.
        if image_layout(source) != image_layout(output):
            reasons.append(Reason("image_token", field, f"<image> layout {image_layout(source)} became {image_layout(output)}"))
        if self.enabled("empty_output") and source.strip() and not output.strip():
            reasons.append(Reason("empty_output", field, "the translation is empty"))
        return reasons
