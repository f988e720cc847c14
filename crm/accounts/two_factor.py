"""Two-factor login: TOTP codes from an authenticator app, and one-time recovery codes.

Functions take a session and plain values; they flush, and the caller commits.

- Enrolment stores a new secret with `totp_enabled` off; it is switched on only when the
  user proves, with a code, that the authenticator holds it.
- A code is accepted once: the time step it belongs to is kept (`totp_last_step`), so a
  code seen over someone's shoulder cannot be replayed within its 30-second window.
- Recovery codes are random, shown once, stored as salted SHA-256 hashes (they carry
  60 random bits, so a slow hash adds nothing), and each is consumed by its use.
- Admins can require 2FA for roles (setting `require_2fa_roles`, e.g. "admin,leader").
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import io
import secrets
import time

import pyotp
from sqlalchemy import select
from sqlalchemy.orm import Session

from crm import audit
from crm.accounts.models import User
from crm.enums import Role
from crm.reference.models import Setting

ISSUER = "Investment CRM"
REQUIRE_SETTING = "require_2fa_roles"
# Roles whose 2FA an admin can require (the others may still enrol by choice).
REQUIRABLE_ROLES: tuple[Role, ...] = (Role.ADMIN, Role.LEADER)
RECOVERY_CODE_COUNT = 10
# Unambiguous characters (no 0/O, 1/I/L): 32 symbols, 5 bits each, 12 per code.
_RECOVERY_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
_RECOVERY_LENGTH = 12
# Accept the previous and the next 30-second code too: phone clocks drift.
VALID_WINDOW = 1


class TwoFactorError(ValueError):
    """A refused 2FA operation (wrong code, nothing to confirm, required by role)."""


# --- the admin setting -------------------------------------------------------------------


def required_roles(session: Session) -> set[Role]:
    """The roles that must use 2FA (empty unless an admin required it)."""
    value = session.scalar(select(Setting.value).where(Setting.key == REQUIRE_SETTING))
    roles = set()
    for part in (value or "").split(","):
        part = part.strip()
        if part in {r.value for r in REQUIRABLE_ROLES}:
            roles.add(Role(part))
    return roles


def set_required_roles(session: Session, roles: set[Role], actor_id: int | None) -> None:
    """Require 2FA for `roles` (only admins and leaders can be required)."""
    unknown = roles - set(REQUIRABLE_ROLES)
    if unknown:
        raise TwoFactorError(f"2FA cannot be required for: {sorted(r.value for r in unknown)}")
    value = ",".join(sorted(r.value for r in roles))
    setting = session.get(Setting, REQUIRE_SETTING)
    before = setting.value if setting else ""
    if setting is None:
        session.add(Setting(key=REQUIRE_SETTING, value=value))
    else:
        setting.value = value
    session.flush()
    if before != value:
        audit.record(
            session,
            user_id=actor_id,
            entity_type="setting",
            entity_id=0,
            action="update",
            changes={REQUIRE_SETTING: [before, value]},
        )


def must_enroll(session: Session, user: User) -> bool:
    """Whether `user` has to set up 2FA before doing anything else.

    Only users of a requirable role without 2FA read the setting, so everyone else's
    requests cost no query.
    """
    if user.totp_enabled or user.role not in REQUIRABLE_ROLES:
        return False
    return user.role in required_roles(session)


# --- TOTP --------------------------------------------------------------------------------


def start_enrollment(session: Session, user: User) -> str:
    """Give `user` a new, not yet confirmed secret (replacing an unconfirmed one)."""
    if user.totp_enabled:
        raise TwoFactorError("Two-factor authentication is already on.")
    user.totp_secret = pyotp.random_base32()
    user.totp_last_step = None
    session.flush()
    return user.totp_secret


def provisioning_uri(user: User) -> str:
    """The otpauth:// URI an authenticator app reads from the QR code."""
    if not user.totp_secret:
        raise TwoFactorError("No secret to show: start the set-up first.")
    return pyotp.TOTP(user.totp_secret).provisioning_uri(name=user.email, issuer_name=ISSUER)


def qr_code_data_uri(uri: str) -> str | None:
    """The QR code of `uri` as an SVG data: URI (drawn on the server; the CSP allows data:
    images, and nothing is fetched from elsewhere). None without the `qrcode` package: the
    page then shows the key to type in."""
    try:
        import qrcode
        import qrcode.image.svg
    except ImportError:
        return None

    image = qrcode.make(uri, image_factory=qrcode.image.svg.SvgPathImage, border=2)
    buffer = io.BytesIO()
    image.save(buffer)
    return "data:image/svg+xml;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _clean(code: str) -> str:
    return "".join(ch for ch in code.upper() if ch.isalnum())


def _matching_step(secret: str, code: str, now: float) -> int | None:
    """The time step whose code equals `code` within the allowed drift, or None."""
    totp = pyotp.TOTP(secret)
    current = int(now // totp.interval)
    for step in range(current - VALID_WINDOW, current + VALID_WINDOW + 1):
        if hmac.compare_digest(totp.generate_otp(step), code):
            return step
    return None


def _accept_totp(user: User, code: str, now: float) -> bool:
    code = _clean(code)
    if not user.totp_secret or len(code) != 6 or not code.isdigit():
        return False
    step = _matching_step(user.totp_secret, code, now)
    if step is None or (user.totp_last_step is not None and step <= user.totp_last_step):
        return False  # wrong, or already used (replay)
    user.totp_last_step = step
    return True


def confirm_enrollment(
    session: Session, user: User, code: str, now: float | None = None
) -> list[str]:
    """Switch 2FA on when `code` matches the new secret; return the recovery codes
    (shown once; only their hashes are kept)."""
    if user.totp_enabled:
        raise TwoFactorError("Two-factor authentication is already on.")
    if not _accept_totp(user, code, time.time() if now is None else now):
        raise TwoFactorError("That code is not right. Check your phone's clock and try again.")
    user.totp_enabled = True
    codes = _new_recovery_codes(user)
    session.flush()
    audit.record(session, user_id=user.id, entity_type="user", entity_id=user.id, action="2fa_on")
    return codes


def verify_login_code(session: Session, user: User, code: str, now: float | None = None) -> str:
    """Check the second factor at login: a TOTP code, or a recovery code (consumed).

    Returns "totp" or "recovery"; raises TwoFactorError when neither matches.
    """
    if not user.totp_enabled:
        raise TwoFactorError("Two-factor authentication is not on for this account.")
    if _accept_totp(user, code, time.time() if now is None else now):
        session.flush()
        return "totp"
    if _use_recovery_code(user, code):
        session.flush()
        audit.record(
            session,
            user_id=user.id,
            entity_type="user",
            entity_id=user.id,
            action="2fa_recovery_code_used",
            changes={"remaining": len(user.recovery_codes)},
        )
        return "recovery"
    raise TwoFactorError("That code is not right.")


def disable(session: Session, user: User, actor_id: int | None, *, reset: bool = False) -> None:
    """Switch 2FA off and forget the secret and recovery codes.

    `reset` is an administrator's action for a user who lost their device: it also ends the
    user's sessions (the device may be in someone else's hands).
    """
    user.totp_secret = None
    user.totp_enabled = False
    user.totp_last_step = None
    user.recovery_codes = []
    if reset:
        user.session_version += 1
    session.flush()
    audit.record(
        session,
        user_id=actor_id,
        entity_type="user",
        entity_id=user.id,
        action="2fa_reset" if reset else "2fa_off",
    )


def regenerate_recovery_codes(session: Session, user: User) -> list[str]:
    """New recovery codes; the old ones stop working."""
    if not user.totp_enabled:
        raise TwoFactorError("Two-factor authentication is not on for this account.")
    codes = _new_recovery_codes(user)
    session.flush()
    audit.record(
        session,
        user_id=user.id,
        entity_type="user",
        entity_id=user.id,
        action="2fa_recovery_codes_renewed",
    )
    return codes


# --- recovery codes ----------------------------------------------------------------------


def _hash_recovery_code(user_id: int, code: str) -> str:
    return hashlib.sha256(f"crm-recovery:{user_id}:{_clean(code)}".encode()).hexdigest()


def _new_recovery_codes(user: User) -> list[str]:
    codes = []
    for _ in range(RECOVERY_CODE_COUNT):
        raw = "".join(secrets.choice(_RECOVERY_ALPHABET) for _ in range(_RECOVERY_LENGTH))
        codes.append("-".join(raw[i : i + 4] for i in range(0, _RECOVERY_LENGTH, 4)))
    user.recovery_codes = [_hash_recovery_code(user.id, c) for c in codes]
    return codes


def _use_recovery_code(user: User, code: str) -> bool:
    cleaned = _clean(code)
    if len(cleaned) != _RECOVERY_LENGTH:
        return False
    wanted = _hash_recovery_code(user.id, cleaned)
    remaining = list(user.recovery_codes or [])
    for stored in remaining:
        if hmac.compare_digest(stored, wanted):
            remaining.remove(stored)
            user.recovery_codes = remaining  # a new list, so the JSON column is saved
            return True
    return False


def recovery_codes_left(user: User) -> int:
    return len(user.recovery_codes or [])
