"""`Reason`: why a record is rejected or flagged, the one type every stage reports with.

Validation (a record LLaVA cannot load), the assembler (a lost span, a failed backend) and the quality checks all
say what is wrong the same way: a stable `code` to count and filter by, the `field` it concerns (a dotted path such as
``conversations[2].value``, empty for the whole record), and a human `detail`.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Reason:
    code: str
    field: str
    detail: str

    def as_dict(self) -> dict[str, str]:
        return {"code": self.code, "field": self.field, "detail": self.detail}
