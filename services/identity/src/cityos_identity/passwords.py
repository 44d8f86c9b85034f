"""Password hashing with scrypt (memory-hard): self-describing hashes, constant-time checks."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass

from cityos_runtime.problems import ProblemError

MIN_LENGTH = 10
MAX_LENGTH = 1024


@dataclass(frozen=True, slots=True)
class ScryptParams:
    """scrypt cost: n=2**15, r=8 takes 32 MiB and ~60 ms per hash on this machine class (OWASP minimum)."""

    n: int = 2**15
    r: int = 8
    p: int = 1

    @property
    def maxmem(self) -> int:
        return 2 * 128 * self.r * self.n * self.p + 1024 * 1024


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def check_password_policy(password: str) -> None:
    """Reject passwords that are too short or absurdly long (the KDF input is bounded)."""
    if len(password) < MIN_LENGTH:
        raise ProblemError("BadRequestData", f"the password must have at least {MIN_LENGTH} characters")
    if len(password) > MAX_LENGTH:
        raise ProblemError("BadRequestData", f"the password must have at most {MAX_LENGTH} characters")


class PasswordHasher:
    """Hashes as `scrypt$n$r$p$salt$hash`, so cost can be raised later and old hashes still verify."""

    def __init__(self, params: ScryptParams | None = None) -> None:
        self.params = params or ScryptParams()

    def _derive(self, password: str, salt: bytes, params: ScryptParams) -> bytes:
        return hashlib.scrypt(
            password.encode(), salt=salt, n=params.n, r=params.r, p=params.p, maxmem=params.maxmem, dklen=32
        )

    def hash(self, password: str) -> str:
        """A new salted hash of `password`."""
        salt = secrets.token_bytes(16)
        p = self.params
        return f"scrypt${p.n}${p.r}${p.p}${_b64(salt)}${_b64(self._derive(password, salt, p))}"

    def verify(self, stored: str, password: str) -> bool:
        """True when `password` matches `stored`; malformed hashes never match."""
        try:
            scheme, n, r, p, salt, digest = stored.split("$")
            params = ScryptParams(int(n), int(r), int(p))
        except ValueError:
            return False
        if scheme != "scrypt" or len(password) > MAX_LENGTH:
            return False
        return hmac.compare_digest(self._derive(password, _unb64(salt), params), _unb64(digest))

    def dummy_verify(self, password: str) -> None:
        """Spend the same time as a real check, so unknown usernames cannot be told apart by timing."""
        self._derive(password[:MAX_LENGTH], b"\0" * 16, self.params)

    def needs_rehash(self, stored: str) -> bool:
        """True when `stored` was made with other parameters than the current ones."""
        p = self.params
        return not stored.startswith(f"scrypt${p.n}${p.r}${p.p}$")
