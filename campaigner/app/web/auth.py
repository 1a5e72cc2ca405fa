"""Who may use the dashboard and the API: the bearer token, browser sessions and CSRF tokens.

One secret, the API token (`[api] token_env`), and nothing else stored. A program sends it as
`Authorization: Bearer <token>`. A browser signs in with it once and gets a session cookie that is
not the token: `<expiry>.<nonce>.<mac>`, where the mac is an HMAC of expiry and nonce under a key
derived from the token for sessions only. Forms and the page's script send a CSRF token derived
under another key from the session's nonce. So a leaked cookie ends at its expiry and never
reveals the token, a cross-site form cannot act (SameSite=Strict, and it cannot know the CSRF
token), and changing the token signs every browser out. Every comparison is constant-time.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time

from campaigner.config import Secret

SESSION_COOKIE = "campaigner_session"
CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf"


def _key(token: Secret, purpose: str) -> bytes:
    # One key per purpose, derived from the token: no secret serves two purposes.
    return hmac.new(token.reveal().encode(), f"campaigner {purpose}".encode(), hashlib.sha256).digest()


class Guard:
    """Checks bearer tokens and makes and checks session cookies and CSRF tokens."""

    def __init__(self, token: Secret, session_seconds: float) -> None:
        self._token = token.reveal().encode()
        self._session_key = _key(token, "session")
        self._csrf_key = _key(token, "csrf")
        self.session_seconds = session_seconds

    def __repr__(self) -> str:
        return "Guard(token=***)"

    def bearer_ok(self, authorization: str | None) -> bool:
        """Whether an Authorization header carries the token."""
        if not authorization or not authorization.startswith("Bearer "):
            return False
        return self.token_ok(authorization[len("Bearer ") :].strip())

    def token_ok(self, candidate: str) -> bool:
        """Whether `candidate` is the token (constant-time)."""
        return hmac.compare_digest(candidate.encode(), self._token)

    def new_session(self, now: float | None = None) -> str:
        """A fresh session cookie value, good for `session_seconds`."""
        expiry = int((now if now is not None else time.time()) + self.session_seconds)
        nonce = secrets.token_urlsafe(18)
        return f"{expiry}.{nonce}.{self._mac(self._session_key, f'{expiry}.{nonce}')}"

    def session_nonce(self, cookie: str | None, now: float | None = None) -> str | None:
        """The nonce of a valid, unexpired session cookie; None for anything else."""
        if not cookie or cookie.count(".") != 2:
            return None
        expiry, nonce, mac = cookie.split(".")
        if not hmac.compare_digest(mac.encode(), self._mac(self._session_key, f"{expiry}.{nonce}").encode()):
            return None
        if not expiry.isdigit() or int(expiry) < (now if now is not None else time.time()):
            return None
        return nonce

    def csrf_token(self, nonce: str) -> str:
        """The CSRF token of the session with `nonce`."""
        return self._mac(self._csrf_key, nonce)

    def csrf_ok(self, nonce: str, candidate: str | None) -> bool:
        """Whether `candidate` is the CSRF token of the session with `nonce`."""
        return bool(candidate) and hmac.compare_digest(
            str(candidate).encode(), self.csrf_token(nonce).encode()
        )

    @staticmethod
    def _mac(key: bytes, message: str) -> str:
        return hmac.new(key, message.encode(), hashlib.sha256).hexdigest()
