"""Encryption of stored secrets with MultiFernet over PORTAL_CREDENTIALS_KEYS (newest key first).

A few lines of our own rather than an encrypted-field package: those swallow decryption errors,
while here a token no key can open raises, so the caller can fail closed for that one project.
"""

from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

__all__ = ["InvalidToken", "decrypt", "encrypt", "key_index", "rotate"]


@lru_cache(maxsize=4)
def _fernets(keys: tuple[str, ...]) -> tuple[Fernet, ...]:
    if not keys:
        raise ImproperlyConfigured("PORTAL_CREDENTIALS_KEYS is empty: secrets cannot be stored.")
    try:
        return tuple(Fernet(key.encode()) for key in keys)
    except ValueError as exc:
        # Never echo the key itself.
        raise ImproperlyConfigured(
            "PORTAL_CREDENTIALS_KEYS holds a value that is not a Fernet key "
            "(32 url-safe base64-encoded bytes)."
        ) from exc


def _keys() -> tuple[Fernet, ...]:
    return _fernets(tuple(settings.PORTAL_CREDENTIALS_KEYS))


def encrypt(plaintext: str) -> str:
    """Encrypts with the newest key."""
    return _keys()[0].encrypt(plaintext.encode()).decode()


def decrypt(token: str) -> str:
    """Decrypts with whichever configured key made `token`; raises InvalidToken if none did."""
    return MultiFernet(list(_keys())).decrypt(token.encode()).decode()


def rotate(token: str) -> str:
    """Re-encrypts `token` with the newest key; raises InvalidToken if no key opens it."""
    return MultiFernet(list(_keys())).rotate(token.encode()).decode()


def key_index(token: str) -> int | None:
    """Position of the key that opens `token` in PORTAL_CREDENTIALS_KEYS (0 = newest), or None."""
    for index, fernet in enumerate(_keys()):
        try:
            fernet.decrypt(token.encode())
        except InvalidToken:
            continue
        return index
    return None
