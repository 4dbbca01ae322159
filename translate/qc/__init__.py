"""Quality checks on each translated turn, giving reason codes (`Reason`), and the per-turn QC log.

Layout: `base` (the `Check` class, the turn, the target), one module per family of checks (`form`, `language`,
`numbers`), `registry` (every check, in order), `settings` (the ``[qc]`` table validated against the registry),
`checker` (`QualityChecker`, the loop), `verdict` (`TurnCheck`, `HARD_REASONS`), `log` (the QC log rows),
`scripts` (target scripts counted from UTF-8 bytes), `units` (sentence units the meaning checks compare), `cache`
(measurements kept by text), `qe` (optional quality estimation: scorers and the stage) and `review` (what the report's
review page shows). docs/quality.md lists the checks and their calibration.
"""

from translate.qc.checker import QualityChecker
from translate.qc.log import QC_LOG_SUFFIX, qc_row, record_check, write_qc_rows
from translate.qc.qe import QeSettings, QeStage
from translate.qc.registry import CHECKS
from translate.qc.settings import Settings, parse_settings
from translate.qc.verdict import HARD_REASONS, TurnCheck
from translate.reasons import Reason

__all__ = ["CHECKS", "HARD_REASONS", "QC_LOG_SUFFIX", "QeSettings", "QeStage", "QualityChecker", "Reason", "Settings",
           "TurnCheck", "parse_settings", "qc_row", "record_check", "write_qc_rows"]
