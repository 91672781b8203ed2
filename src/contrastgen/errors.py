"""Errors a user can cause and fix (bad corpus, bad config, no GPU): each is one line that
names the file, line or config key. Rule scripts and the CLI print them without a
traceback; anything else is a bug and keeps its traceback."""


class UserError(Exception):
    """Bad input: the message alone tells the user what to change."""


class ConfigError(UserError, ValueError):
    """A config.yaml value that cannot work; the message names the key."""


class DiskFullError(UserError, OSError):
    """A write found its filesystem full: the user frees space and reruns. Writes are
    atomic (files) or torn-line safe (cache), so nothing finished is lost."""

    def __init__(self, path) -> None:
        super().__init__(
            f"{path}: no space left on device; free space there (or move the run to a"
            " larger disk) and rerun: finished work is kept"
        )


def is_disk_full(exc: OSError) -> bool:
    """Whether `exc` says the filesystem is full (ENOSPC, or EDQUOT: over quota)."""
    import errno

    return exc.errno in (errno.ENOSPC, errno.EDQUOT)


def raise_if_disk_full(exc: OSError, path) -> None:
    """Turn a full filesystem into DiskFullError."""
    if is_disk_full(exc):
        raise DiskFullError(path) from exc
