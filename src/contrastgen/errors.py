"""Errors a user can cause and fix (bad corpus, bad config, no GPU): each is one line that
names the file, line or config key. Rule scripts and the CLI print them without a
traceback; anything else is a bug and keeps its traceback."""


class UserError(Exception):
    """Bad input: the message alone tells the user what to change."""


class ConfigError(UserError, ValueError):
    """A config.yaml value that cannot work; the message names the key."""
