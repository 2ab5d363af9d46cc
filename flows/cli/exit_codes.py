"""Every exit status of the `yuliao` command, one meaning per number (docs/operations.md, "Exit codes")."""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    """What a `yuliao` command's exit status means; scripts and schedulers may branch on it."""

    OK = 0  # done
    FAILED = 1  # an unexpected failure, or `inspect` found records that a run would quarantine
    BAD_INPUT = 2  # bad recipe, arguments or reference: nothing was run or changed
    LOST_RECORDS = 3  # conservation check failed: read != kept + dropped + quarantined
    INTEGRITY = 4  # a file's digest, a row count or the audit chain does not hold
    NOT_FOUND = 5  # the named dataset, version or run does not exist
    SIGNATURE = 6  # unsigned, untrusted or changed release manifest
    ACCESS_DENIED = 7  # the team's access ceiling is below the release's classification
    UNAVAILABLE = 8  # a service (Label Studio) does not answer or refuses the token: nothing was changed
