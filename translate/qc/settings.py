"""The ``[qc]`` table: which checks run and with which thresholds, validated against the registry."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from translate.errors import ConfigError
from translate.qc.base import SEVERITIES, Target
from translate.qc.registry import BY_NAME, CHECKS


@dataclass
class Settings:
    enabled: dict[str, bool] = field(default_factory=dict)
    values: dict[str, dict[str, Any]] = field(default_factory=dict)
    severity: dict[str, str] = field(default_factory=dict)


def parse_settings(target_lang: str, settings: dict[str, Any] | None) -> Settings:
    """Defaults for `target_lang` overlaid with the ``[qc]`` table. Unknown checks or thresholds are errors."""
    target = Target.of(target_lang)
    values = {name: cls.defaults_for(target) for name, cls in BY_NAME.items()}
    enabled = {name: cls.enabled_for(target) for name, cls in BY_NAME.items()}
    severity = {name: cls.severity for name, cls in BY_NAME.items()}
    for key, value in (settings or {}).items():
        name = key.replace("-", "_")
        if name == "qe":
            from translate.qc.qe import QeSettings

            QeSettings.parse(value)  # validated here; the pipeline builds the stage (translate.qc.qe.QeStage)
            continue
        if name == "image_token":
            if value is False or (isinstance(value, dict) and value.get("enabled") is False):
                raise ConfigError("[qc] image_token cannot be switched off: a lost <image> is silent data loss")
            continue
        if name not in BY_NAME:
            raise ConfigError(f"[qc] unknown check {key!r}; known: {', '.join(CHECKS)}")
        if isinstance(value, bool):
            enabled[name] = value
            continue
        if not isinstance(value, dict):
            raise ConfigError(f"[qc] {key} must be true, false or a table of thresholds, not {value!r}")
        cls = BY_NAME[name]
        for option, setting in value.items():
            option = option.replace("-", "_")
            if option == "enabled":
                enabled[name] = bool(setting)
            elif option == "severity":
                if setting not in SEVERITIES:
                    raise ConfigError(f"[qc.{key}] severity must be one of {', '.join(SEVERITIES)}, not {setting!r}")
                severity[name] = setting
            elif option in values[name] or cls.open_options:
                values[name][option] = setting
            else:
                known = ", ".join(["enabled", "severity", *values[name]])
                raise ConfigError(f"[qc.{key}] unknown threshold {option!r}; known: {known}")
        cls.validate(values[name])
    for name, cls in BY_NAME.items():
        if name not in (settings or {}):
            cls.validate(values[name])
    return Settings(enabled, values, severity)
