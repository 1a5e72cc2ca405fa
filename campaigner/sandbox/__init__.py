"""A local provider that speaks Cliqtel's, Clickatell's and ClickSend's APIs (limits, faults, callbacks).

It serves what the providers' documents describe, in the shapes they show; anything more is marked
in the code as a sandbox extension and is off by default where it changes behaviour (Clickatell:
clickatell_routes.py and clickatell_callbacks.py list what the document shows and what it leaves open).

Use `run_sandbox(settings)` in-process (tests, demo) or `campaigner sandbox --port 8025` standalone.
"""

from __future__ import annotations

from campaigner.sandbox.app import RunningSandbox, build_app, run_sandbox, start_sandbox
from campaigner.sandbox.callbacks import SIGNATURE_HEADER, sign
from campaigner.sandbox.settings import SandboxNumber, SandboxSettings, settings_for_tests
from campaigner.sandbox.state import SandboxState

__all__ = [
    "SIGNATURE_HEADER",
    "RunningSandbox",
    "SandboxNumber",
    "SandboxSettings",
    "SandboxState",
    "build_app",
    "run_sandbox",
    "settings_for_tests",
    "sign",
    "start_sandbox",
]
