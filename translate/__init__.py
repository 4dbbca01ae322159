"""llava-translate: translate LLaVA visual-instruction data, reproducibly and verifiably."""

__version__ = "0.1.0"
