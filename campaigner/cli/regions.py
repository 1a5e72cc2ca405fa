"""The --region option's check, shared by the commands that read phone numbers."""

from __future__ import annotations

import click

from campaigner.config import region_problem


def check_region(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """A --region callback: an unknown region code is a usage error naming the option."""
    problem = region_problem(value or "")
    if problem:
        raise click.BadParameter(problem)
    return value
