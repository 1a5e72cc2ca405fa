"""One exception tree for campaigner.

Every error a user can cause (bad input, bad config, an unreachable database, a provider refusing
the account) is a `CampaignerError`: the CLI prints its message as one line and exits with
`exit_code`, never with a traceback. Anything else is a bug and is allowed to show one.
"""

from __future__ import annotations


class CampaignerError(Exception):
    """Base of every error campaigner raises on purpose."""

    exit_code = 2


class UserError(CampaignerError):
    """The user asked for something impossible: bad file, bad option, illegal state change."""


class ConfigError(UserError):
    """The configuration file or environment is wrong; the message names the file and key."""


class InputFileError(UserError):
    """A recipients or message file cannot be used; the message names the file, line and column."""


class DatabaseError(CampaignerError):
    """The database cannot be reached or refused a statement (never carries a password)."""


class StateError(UserError):
    """An illegal state change was asked for (resume a completed campaign, ...)."""


class NotFoundError(UserError):
    """A campaign, job or other record named by the user does not exist."""


class ProviderError(CampaignerError):
    """The provider could not be used at all (bad key, missing sender, unreachable)."""


class CampaignStopped(CampaignerError):
    """A campaign ended paused or failed; the message says why."""

    exit_code = 3
