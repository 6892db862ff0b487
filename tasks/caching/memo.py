"""A memo of the lookups every request makes: token → user (API), session → user (pages),
(user, project) → role + project, and whether a task is watched (pages). Each costs a query.

The entries live in this process's memory; what makes them trustworthy lives in the shared cache:
every entry is stored with the *epochs* it was filled under and is used only while the shared
cache still holds those epochs (read in one round trip, usually within the request's read-ahead
batch, tasks.caching.readahead):

- token entries (keyed by the token's digest) carry the token's own epoch: bumped when the token
  is saved or deleted (revocation, logout, expiry) and, for all of a user's tokens, when the user
  is saved or deleted (deactivation, staff/superuser or password change);
- project entries (keyed by user and project) carry the user's epoch (bumped by user and
  membership changes) and the project's (bumped by every save or delete of the project);
- session-user entries carry the user's epoch, and are used only for a session holding the same
  session hash (see session_user);
- watched entries carry the tracked task's epoch (bumped by every save or delete of it).

So a change made by any process applies to every process's next request. An epoch is read (or
created) *before* the database is, and a bump happens at once and again after the writing
transaction commits, so a fill that raced with a change is stored under an epoch that is already
dead. Epochs are random, not counters: an evicted epoch key comes back as a value no stored entry
has. Only queryset `.update()` bypasses the signals; ENTRY_TTL bounds that.

Nothing secret is kept in an entry: no key, password hash or `*_enc` column (docs/CONTRACT.md,
Secrets); the shared cache holds nothing but random epochs.
"""

import hashlib
import secrets
import time
from typing import NamedTuple

from django.conf import settings
from django.contrib.auth import (
    BACKEND_SESSION_KEY,
    HASH_SESSION_KEY,
    SESSION_KEY,
    get_user,
    get_user_model,
)
from django.core.cache import cache
from django.db import router, transaction
from django.db.models.signals import post_delete, post_save
from django.utils.crypto import constant_time_compare
from knox.settings import CONSTANTS

from tasks.caching import readahead
from tasks.models import ApiToken, CloudProject, Membership, TrackedTask

ENTRY_TTL = 300
#: Entries kept per process; the memo starts over when full (a refill is one query).
LOCAL_MAX = 10_000
_local: dict[str, tuple[list, float, object]] = {}
EPOCH_TTL = 86_400  # any value is safe: a missing epoch invalidates what was stored under it


def _in_model_order(model, names) -> tuple[str, ...]:
    # Model.from_db() takes the values of a subset of fields in the model's field order.
    return tuple(f.attname for f in model._meta.concrete_fields if f.attname in names)


#: The user fields authentication and access decisions read; everything else stays deferred.
USER_FIELDS = _in_model_order(
    get_user_model(), {"id", "username", "is_active", "is_staff", "is_superuser"}
)
TOKEN_FIELDS = _in_model_order(
    ApiToken, {"digest", "token_key", "user_id", "expiry", "last_used_at"}
)
#: A project's plain columns: never the secret ones, which load from the database when used.
PROJECT_FIELDS = tuple(
    field.attname
    for field in CloudProject._meta.concrete_fields
    if field.attname not in CloudProject.SECRET_COLUMNS
)


def _epoch_key(kind: str, ident) -> str:
    return f"memo:epoch:{kind}:{ident}"


def _bump(kind: str, ident) -> None:
    key = _epoch_key(kind, ident)
    readahead.forget(key)
    cache.set(key, secrets.token_hex(8), EPOCH_TTL)
    # Again once the change is visible to other connections: a concurrent fill that read the old
    # rows after the first bump is orphaned by this one.
    transaction.on_commit(lambda: cache.set(key, secrets.token_hex(8), EPOCH_TTL))


def _read(entry_key: str, epoch_keys: list[str]) -> tuple[object | None, list | None]:
    """(the entry's data if its epochs are current, else None; the epochs to fill under, or None
    when the cache cannot hold one — then nothing is stored)."""
    found = readahead.get_many(epoch_keys)
    epochs = []
    for key in epoch_keys:
        epoch = found.get(key)
        if epoch is None:
            # Created before the database is read, so a bump after that read orphans the fill.
            cache.add(key, secrets.token_hex(8), EPOCH_TTL)
            epoch = cache.get(key)
            if epoch is None:
                return None, None
        epochs.append(epoch)
    entry = _local.get(entry_key)
    if entry is not None and entry[0] == epochs and entry[1] > time.monotonic():
        return entry[2], epochs
    return None, epochs


def _write(entry_key: str, epochs: list | None, data) -> None:
    if epochs is None:
        return
    _keep(entry_key, (epochs, time.monotonic() + ENTRY_TTL, data))


def _keep(entry_key: str, entry: tuple) -> None:
    if len(_local) >= LOCAL_MAX:
        _local.clear()
    _local[entry_key] = entry


def _peek(entry_key: str):
    """The entry's data whatever its epochs (only to guess what a request will read)."""
    entry = _local.get(entry_key)
    return None if entry is None else entry[2]


# ---- token → user --------------------------------------------------------------------------------


def _token_key(digest: str) -> str:
    return f"memo:token:{digest}"


def token_get(digest: str, key: str) -> tuple[tuple | None, list | None]:
    """((user, token) rebuilt from the entry of this digest, or None; epochs for token_put).
    Keyed by the full digest: only the presented key's exact digest finds an entry."""
    data, epochs = _read(_token_key(digest), [_epoch_key("token", digest)])
    if data is None:
        return None, epochs
    user_values, expiry, last_used_at = data
    User = get_user_model()
    user = User.from_db(router.db_for_read(User), USER_FIELDS, user_values)
    token = ApiToken.from_db(
        router.db_for_read(ApiToken),
        TOKEN_FIELDS,
        # The digest and the key's prefix come from the presented key, not from the cache.
        [
            {
                "digest": digest,
                "token_key": key[: CONSTANTS.TOKEN_KEY_LENGTH],
                "user_id": user.pk,
                "expiry": expiry,
                "last_used_at": last_used_at,
            }[name]
            for name in TOKEN_FIELDS
        ],
    )
    ApiToken.user.field.set_cached_value(token, user)
    return (user, token), epochs


def token_forget(digest: str) -> None:
    """Drops the token's epoch (safe: a missing epoch invalidates, never validates)."""
    _local.pop(_token_key(digest), None)
    cache.delete(_epoch_key("token", digest))


def token_put(epochs: list | None, user, token: ApiToken) -> None:
    user_values = tuple(getattr(user, field) for field in USER_FIELDS)
    _write(_token_key(token.digest), epochs, (user_values, token.expiry, token.last_used_at))


# ---- (user, project) → role + project ------------------------------------------------------------


def _project_key(user_pk, public_id) -> str:
    return f"memo:project:{user_pk}:{public_id}"


def project_get(user_pk, public_id) -> tuple[CloudProject | None, list | None]:
    data, epochs = _read(_project_key(user_pk, public_id), _project_epoch_keys(user_pk, public_id))
    if data is None:
        return None, epochs
    role, values = data
    project = CloudProject.from_db(router.db_for_read(CloudProject), PROJECT_FIELDS, values)
    project.role = role
    return project, epochs


def project_put(epochs: list | None, user_pk, project: CloudProject) -> None:
    values = tuple(getattr(project, field) for field in PROJECT_FIELDS)
    _write(_project_key(user_pk, project.public_id), epochs, (project.role, values))


def _project_epoch_keys(user_pk, public_id) -> list[str]:
    return [_epoch_key("user", user_pk), _epoch_key("project", public_id)]


# ---- the session's user (pages) ------------------------------------------------------------------


def _session_user_key(user_pk) -> str:
    return f"memo:session-user:{user_pk}"


def session_user(request):
    """`django.contrib.auth.get_user(request)`, answered from the memo while the user's epoch
    holds and the session carries the same session hash (so a password change, which changes the
    hash, or a logout elsewhere still ends the session). The memo keeps the hash Django compares,
    never the password hash it is made from; the user comes back with `password` deferred."""
    session = request.session
    try:
        user_pk = session[SESSION_KEY]
        backend = session[BACKEND_SESSION_KEY]
    except KeyError:
        return get_user(request)
    key = _session_user_key(user_pk)
    data, epochs = _read(key, [_epoch_key("user", user_pk)])
    if (
        data is not None
        and backend in settings.AUTHENTICATION_BACKENDS
        and constant_time_compare(session.get(HASH_SESSION_KEY) or "", data[1])
    ):
        User = get_user_model()
        return User.from_db(router.db_for_read(User), USER_FIELDS, data[0])
    user = get_user(request)
    if user.is_authenticated:
        values = tuple(getattr(user, field) for field in USER_FIELDS)
        _write(key, epochs, (values, user.get_session_auth_hash()))
        if session.session_key:
            _keep(_session_guess_key(session.session_key), (None, 0.0, user.pk))
    return user


def _session_guess_key(session_key: str) -> str:
    # Hashed: a session key is a credential and is not kept, even in memory.
    return "memo:session-guess:" + hashlib.sha256(session_key.encode()).hexdigest()


def session_guess(session_key: str) -> tuple[list[str], int | None]:
    """The epoch key session_user will read for this session and the session's user, as far as
    this process knows (a guess for tasks.caching.readahead: unchecked)."""
    user_pk = _peek(_session_guess_key(session_key))
    return ([], None) if user_pk is None else ([_epoch_key("user", user_pk)], user_pk)


# ---- whether a task is watched (pages) -----------------------------------------------------------


def _tracked_ident(project_pk, service: str, task_id: str) -> str:
    return f"{project_pk}:{service}:{task_id}"


def watched_get(project_pk, service: str, task_id: str) -> tuple[bool | None, list | None]:
    ident = _tracked_ident(project_pk, service, task_id)
    return _read(f"memo:watched:{ident}", [_epoch_key("tracked", ident)])


def watched_put(epochs: list | None, project_pk, service: str, task_id: str, watched) -> None:
    _write(f"memo:watched:{_tracked_ident(project_pk, service, task_id)}", epochs, watched)


# ---- read-ahead ----------------------------------------------------------------------------------


def token_guess(digest: str) -> tuple[list[str], int | None]:
    """The epoch key a request presenting this token digest reads here, and the user the token
    belonged to when this process last saw it (a guess for tasks.caching.readahead: unchecked)."""
    token_data = _peek(_token_key(digest))
    user_pk = None if token_data is None else token_data[0][USER_FIELDS.index("id")]
    return [_epoch_key("token", digest)], user_pk


class ProjectGuess(NamedTuple):
    """What a cache key of a project's data needs (see tasks.services.task_fetch.task_cache_key)."""

    pk: int
    credentials_version: int


def project_guess(user_pk, public_id) -> tuple[list[str], ProjectGuess | None]:
    """The epoch keys get_project_for_user reads for this user and project, and the project's
    id and credentials version as this process last saw them (a guess for tasks.caching.readahead:
    unchecked)."""
    keys = _project_epoch_keys(user_pk, public_id)
    data = _peek(_project_key(user_pk, public_id))
    if data is None:
        return keys, None
    values = dict(zip(PROJECT_FIELDS, data[1], strict=True))
    return keys, ProjectGuess(values["id"], values["credentials_version"])


def watched_epoch_key(project_pk, service: str, task_id: str) -> str:
    return _epoch_key("tracked", _tracked_ident(project_pk, service, task_id))


# ---- invalidation --------------------------------------------------------------------------------


def _token_changed(sender, instance, **kwargs) -> None:
    _bump("token", instance.digest)


def _user_changed(sender, instance, update_fields=None, **kwargs) -> None:
    if update_fields is not None and set(update_fields) <= {"last_login"}:
        return  # a login: nothing cached changed
    _bump("user", instance.pk)
    for digest in ApiToken.objects.filter(user_id=instance.pk).values_list("digest", flat=True):
        _bump("token", digest)


def _membership_changed(sender, instance, **kwargs) -> None:
    # A membership governs exactly one user's access: that user's epoch.
    _bump("user", instance.user_id)


def _project_changed(sender, instance, **kwargs) -> None:
    _bump("project", instance.public_id)


def _tracked_changed(sender, instance, **kwargs) -> None:
    _bump("tracked", _tracked_ident(instance.project_id, instance.service, instance.task_id))


def connect() -> None:
    """Called from TasksConfig.ready()."""
    User = get_user_model()
    for signal in (post_save, post_delete):
        signal.connect(_token_changed, sender=ApiToken, dispatch_uid="memo-token")
        signal.connect(_user_changed, sender=User, dispatch_uid="memo-user")
        signal.connect(_membership_changed, sender=Membership, dispatch_uid="memo-member")
        signal.connect(_project_changed, sender=CloudProject, dispatch_uid="memo-project")
        signal.connect(_tracked_changed, sender=TrackedTask, dispatch_uid="memo-tracked")
