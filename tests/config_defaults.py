"""The defaults of the shipped config.yaml, typed, for tests that need a section's
values without building a whole run (config.yaml is their one home)."""

from pathlib import Path

from contrastgen.settings import Settings, read_config_yaml

CONFIG = read_config_yaml(Path(__file__).resolve().parent.parent / "config.yaml")
SETTINGS = Settings.from_config(CONFIG)
THRESHOLDS = SETTINGS.validator.thresholds
