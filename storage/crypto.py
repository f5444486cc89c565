"""Phone numbers encrypted at rest, so a copied database file (or a backup) does not reveal them.

`EncryptedString` is the column type of `Person.phone`: code reads and writes plain strings, the
database holds `enc1:<Fernet token>`. The key is not a process global: it is attached to one
engine's dialect by `attach_cipher` (see `Database.set_phone_key`), so two databases in one
process (the tests) can use different keys, and a database without a key refuses to store a
phone rather than store it in clear.

PHONE_ENCRYPTION_KEY may list several comma-separated Fernet keys: the first encrypts, all of
them decrypt (key rotation; `reseal_phones` re-encrypts every phone with the first key).

A phone cannot be searched for in SQL once encrypted (Fernet is randomised), so each person also
has a blind index, `Person.phone_index`: an HMAC-SHA256 of the number as storage/phones.py reads
it (13812345678, whether written +86 138-1234-5678 or １３８…), keyed with a key derived from the
first Fernet key. Finding a resident by phone is one indexed equality (`blind_index`); the
index reveals nothing without the key, and a partial number finds nothing. Writing a phone sets
its index (`index_person_phone`, a mapper listener registered in storage/sessions.py); rotating
the key re-keys every index with the phones (`reseal_phones`), and the start-up fills any
missing one (rows written by a migration without the key).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import Any

import sqlalchemy as sa
from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from sqlalchemy.engine import Dialect
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.phones import index_form

SEALED_PREFIX = "enc1:"
_INDEX_LABEL = b"community-notebook phone blind index v1"
_DIALECT_ATTRIBUTE = "notebook_phone_cipher"


class PhoneKeyError(Exception):
    """No key, or a key that does not open what is stored: one line for the operator."""


class PhoneCipher:
    """Fernet over one or more keys (the first one encrypts)."""

    def __init__(self, keys: str) -> None:
        parts = [k.strip() for k in keys.split(",") if k.strip()]
        if not parts:
            raise PhoneKeyError("PHONE_ENCRYPTION_KEY is empty")
        try:
            fernets = [Fernet(k.encode()) for k in parts]
        except (ValueError, TypeError) as exc:
            raise PhoneKeyError(
                "PHONE_ENCRYPTION_KEY: not a Fernet key (make one with `python -m bot keygen`)"
            ) from exc
        self._primary = fernets[0]
        self._fernet = MultiFernet(fernets)
        self._index_key = hmac.new(
            base64.urlsafe_b64decode(parts[0].encode()), _INDEX_LABEL, hashlib.sha256
        ).digest()

    def index(self, phone: str) -> str:
        """The blind index of a phone number (see the module doc): 64 hex digits."""
        return hmac.new(self._index_key, index_form(phone).encode(), hashlib.sha256).hexdigest()

    def _primary_opens(self, token: bytes) -> bool:
        try:
            self._primary.decrypt(token)
        except InvalidToken:
            return False
        return True

    def seal(self, plain: str) -> str:
        return SEALED_PREFIX + self._fernet.encrypt(plain.encode()).decode()

    def open(self, sealed: str) -> str:
        try:
            return self._fernet.decrypt(sealed.removeprefix(SEALED_PREFIX).encode()).decode()
        except InvalidToken as exc:
            raise PhoneKeyError(
                "PHONE_ENCRYPTION_KEY does not decrypt the stored phone numbers (wrong key?)"
            ) from exc

    def reseal(self, sealed: str) -> str:
        """The same value if the first key already opens it, else re-encrypted with it."""
        token = sealed.removeprefix(SEALED_PREFIX).encode()
        if self._primary_opens(token):
            return sealed
        try:
            return SEALED_PREFIX + self._fernet.rotate(token).decode()
        except InvalidToken as exc:
            raise PhoneKeyError(
                "PHONE_ENCRYPTION_KEY does not decrypt the stored phone numbers (wrong key?)"
            ) from exc


def new_key() -> str:
    return Fernet.generate_key().decode()


def attach_cipher(engine: sa.engine.Engine, cipher: PhoneCipher | None) -> None:
    setattr(engine.dialect, _DIALECT_ATTRIBUTE, cipher)


def cipher_of(dialect: Dialect) -> PhoneCipher | None:
    cipher = getattr(dialect, _DIALECT_ATTRIBUTE, None)
    return cipher if isinstance(cipher, PhoneCipher) else None


def is_sealed(value: str | None) -> bool:
    return value is not None and value.startswith(SEALED_PREFIX)


class EncryptedString(sa.types.TypeDecorator[str]):
    """A string stored encrypted with the engine's phone key (see module docstring).

    A value written before encryption existed (no prefix) is read as it is; start-up seals
    such values (`seal_plaintext_phones`)."""

    impl = sa.Text
    cache_ok = True

    def process_bind_param(self, value: str | None, dialect: Dialect) -> Any:
        if value is None or is_sealed(value):
            return value
        cipher = cipher_of(dialect)
        if cipher is None:
            raise PhoneKeyError(
                "no PHONE_ENCRYPTION_KEY: refusing to store a phone number in clear"
            )
        return cipher.seal(value)

    def process_result_value(self, value: Any, dialect: Dialect) -> str | None:
        if value is None or not is_sealed(str(value)):
            return value
        cipher = cipher_of(dialect)
        if cipher is None:
            raise PhoneKeyError("PHONE_ENCRYPTION_KEY is not set but phone numbers are stored")
        return cipher.open(str(value))


def blind_index(dialect: Dialect, phone: str | None) -> str | None:
    """The blind index of `phone` with this engine's key (None: no phone, or no key)."""
    cipher = cipher_of(dialect)
    if phone is None or cipher is None:
        return None
    return cipher.index(phone)


def session_dialect(session: AsyncSession) -> Dialect:
    return session.sync_session.get_bind().dialect


def index_person_phone(_mapper: Any, connection: sa.Connection, target: Any) -> None:
    """Before a person is written: their phone's blind index, from the phone being written."""
    if not sa.inspect(target).attrs.phone.history.has_changes():
        return
    target.phone_index = blind_index(connection.dialect, target.phone)


def _raw_phone_table() -> sa.TableClause:
    # The column seen without the type decorator: what is really in the database.
    return sa.table(
        "person",
        sa.column("id", sa.Integer),
        sa.column("phone", sa.Text),
        sa.column("phone_index", sa.Text),
    )


async def raw_phones(session: AsyncSession) -> list[tuple[int, str]]:
    table = _raw_phone_table()
    rows = await session.exec(
        sa.select(table.c.id, table.c.phone).where(table.c.phone.is_not(None))  # type: ignore[call-overload]
    )
    return [(int(r[0]), str(r[1])) for r in rows.all()]


async def check_key(session: AsyncSession, cipher: PhoneCipher | None) -> int:
    """Raise PhoneKeyError unless `cipher` opens a stored phone; returns how many are stored."""
    stored = await raw_phones(session)
    sealed = [value for _, value in stored if is_sealed(value)]
    if sealed and cipher is None:
        raise PhoneKeyError(
            f"PHONE_ENCRYPTION_KEY is not set but {len(sealed)} phone numbers are stored encrypted"
        )
    if sealed and cipher is not None:
        cipher.open(sealed[0])
    return len(stored)


async def reseal_phones(session: AsyncSession, cipher: PhoneCipher) -> int:
    """Encrypt phones stored in clear (older databases), re-encrypt the rest with the first key,
    and key every blind index with it; returns how many rows changed."""
    table = _raw_phone_table()
    rows = await session.exec(
        sa.select(table.c.id, table.c.phone, table.c.phone_index).where(  # type: ignore[call-overload]
            table.c.phone.is_not(None)
        )
    )
    changed = 0
    for person_id, value, stored_index in rows.all():
        sealed = cipher.reseal(value) if is_sealed(value) else cipher.seal(value)
        index = cipher.index(cipher.open(value) if is_sealed(value) else value)
        if sealed == value and index == stored_index:
            continue
        await session.exec(
            sa.update(table).where(table.c.id == person_id).values(phone=sealed, phone_index=index)
        )
        changed += 1
    return changed
