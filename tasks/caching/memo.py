"""A memo of the lookups every request makes: token → user (API), session → user (pages),
(user, project) → role + project, and whether a task is watched (pages). Each costs a query.

The entries live in this process's memory; what makes them trustworthy lives in the shared cache:
every entry is stored with the *epochs* it was filled under and is used only while the shared
cache still holds those epochs (read in the request's one cache read, tasks.caching.read, or
here when the caller has none):

- token entries (keyed by the token's digest) carry the token's own epoch: bumped when the token
  is saved or deleted (revocation, logout, expiry) and, for all of a user's tokens, when the user
  is saved or deleted (deactivation, staff/superuser or password change);
- project entries (keyed by user and project public id) carry the user's epoch (bumped by user and
  membership changes) and the project's (bumped by every save or delete of the project);
- session-user entries carry the user's epoch, and are used only for a session holding the same
  session hash (see session_user);
- watched entries carry the tracked task's epoch (bumped by every save or delete of it).

So a change made by any process applies to every process's next request — provided every process
shares the cache: a per-process cache with several processes is refused (tasks.caching.checks,
gunicorn.conf.py). An epoch is read (or created) *before* the database is, and a bump happens at
once and again after the writing transaction commits, so a fill that raced with a change is stored
under an epoch that is already dead. Epochs are random, not counters: an evicted epoch key comes
back as a value no stored entry has. Only queryset `.update()` bypasses the signals; ENTRY_TTL
bounds that. While the cache does not answer there is no epoch, so nothing is served from or
stored in the memo; a process drops its whole memo the first time it sees that.

Entries hold model instances loaded without their secrets (no password hash, no `*_enc` column:
docs/CONTRACT.md, Secrets); each request gets its own copy. The shared cache holds nothing but
random epochs.
"""

import copy
import secrets
import time
from typing import Any

from django.conf import settings
from django.contrib.auth import (
    BACKEND_SESSION_KEY,
    HASH_SESSION_KEY,
    SESSION_KEY,
    get_user,
    get_user_model,
)
from django.core.cache import cache
from django.core.exceptions import ObjectDoesNotExist
from django.db import transaction
from django.db.models.signals import post_delete, post_save
from django.utils.crypto import constant_time_compare

from tasks.caching.read import CacheRead
from tasks.models import ApiToken, CloudProject, Membership, TrackedTask

ENTRY_TTL = 300
#: Entries kept per process; the memo starts over when full (a refill is one query).
LOCAL_MAX = 10_000
_local: dict[str, tuple[list, float, Any]] = {}
EPOCH_TTL = 86_400  # any value is safe: a missing epoch invalidates what was stored under it

#: The user fields authentication and access decisions read; the rest (the password hash among
#: them) stays deferred in a memoised user.
USER_FIELDS = ("id", "username", "is_active", "is_staff", "is_superuser")


def epoch_key(kind: str, ident: Any) -> str:
    return f"memo:epoch:{kind}:{ident}"


def token_epoch_key(digest: str) -> str:
    return epoch_key("token", digest)


def user_epoch_key(user_pk: Any) -> str:
    return epoch_key("user", user_pk)


def project_epoch_key(public_id: Any) -> str:
    return epoch_key("project", public_id)


def watched_epoch_key(public_id: Any, service: str, task_id: str) -> str:
    return epoch_key("tracked", f"{public_id}:{service}:{task_id}")


def _bump(key: str) -> None:
    cache.set(key, secrets.token_hex(8), EPOCH_TTL)
    # Again once the change is visible to other connections: a concurrent fill that read the old
    # rows after the first bump is orphaned by this one.
    transaction.on_commit(lambda: cache.set(key, secrets.token_hex(8), EPOCH_TTL))


def _epochs(epoch_keys: list[str], cached: CacheRead | None) -> list | None:
    """The current epochs (created when missing, before the database is read, so that a bump after
    that read orphans the fill), or None when the cache cannot hold one: then nothing is used or
    stored, and this process's memo is dropped (a bump may have been lost meanwhile)."""
    found = cached.get_many(epoch_keys) if cached is not None else None
    if found is None:
        found = cache.get_many(epoch_keys)
    epochs = []
    for key in epoch_keys:
        epoch = found.get(key)
        if epoch is None:
            cache.add(key, secrets.token_hex(8), EPOCH_TTL)
            epoch = cache.get(key)
            if epoch is None:
                _local.clear()
                return None
        epochs.append(epoch)
    return epochs


def _read(entry_key: str, epochs: list | None) -> Any:
    """The entry's data if it was stored under `epochs` and has not expired, else None."""
    entry = _local.get(entry_key)
    if epochs is not None and entry is not None and entry[0] == epochs:
        return entry[2] if entry[1] > time.monotonic() else None
    return None


def _write(entry_key: str, epochs: list | None, data: Any) -> None:
    if epochs is None:
        return
    if len(_local) >= LOCAL_MAX:
        _local.clear()
    _local[entry_key] = (epochs, time.monotonic() + ENTRY_TTL, data)


def _memo_user(user_pk: Any):
    """The user as the memo keeps it: the fields access decisions read, the rest deferred."""
    return get_user_model().objects.only(*USER_FIELDS).get(pk=user_pk)


# ---- token → user --------------------------------------------------------------------------------


def _token_key(digest: str) -> str:
    return f"memo:token:{digest}"


def token_owner(digest: str) -> Any:
    """The pk of the user the token with this digest belongs to, if this process has seen it (a
    token never changes hands, so this is a fact about the request, not a guess)."""
    entry = _local.get(_token_key(digest))
    return None if entry is None else entry[2][0].user_id


def token_get(digest: str, *, cached: CacheRead | None = None) -> tuple[tuple | None, list | None]:
    """((user, token) from the entry of this digest, or None; the epochs for token_put). Keyed by
    the full digest: only the presented key's exact digest finds an entry."""
    epochs = _epochs([token_epoch_key(digest)], cached)
    data = _read(_token_key(digest), epochs)
    if data is None:
        return None, epochs
    token, user = (copy.copy(instance) for instance in data)
    token.user = user
    return (user, token), epochs


def token_forget(digest: str) -> None:
    """Drops what is known of a key that failed (safe: a missing epoch never validates)."""
    _local.pop(_token_key(digest), None)
    cache.delete(token_epoch_key(digest))


def token_put(epochs: list | None, token: ApiToken) -> None:
    if epochs is None:
        return
    user = _memo_user(token.user_id)
    kept = copy.copy(token)
    kept.user = user  # not the user knox loaded, with its password hash
    _write(_token_key(token.digest), epochs, (kept, user))


# ---- (user, project) → role + project ------------------------------------------------------------


def _project_key(user_pk: Any, public_id: Any) -> str:
    return f"memo:project:{user_pk}:{public_id}"


def project_epoch_keys(user_pk: Any, public_id: Any) -> list[str]:
    return [user_epoch_key(user_pk), project_epoch_key(public_id)]


def project_get(
    user_pk: Any, public_id: Any, *, cached: CacheRead | None = None
) -> tuple[CloudProject | None, list | None]:
    epochs = _epochs(project_epoch_keys(user_pk, public_id), cached)
    data = _read(_project_key(user_pk, public_id), epochs)
    if data is None:
        return None, epochs
    role, project = data
    project = copy.copy(project)
    project.role = role
    return project, epochs


def project_put(epochs: list | None, user_pk: Any, project: CloudProject) -> None:
    """Keeps `project` (loaded with its SECRET_COLUMNS deferred) and its `.role` for the user."""
    if set(CloudProject.SECRET_COLUMNS) - project.get_deferred_fields():
        raise ValueError("a memoised project must be loaded without its secret columns")
    _write(_project_key(user_pk, project.public_id), epochs, (project.role, copy.copy(project)))


# ---- the session's user (pages) ------------------------------------------------------------------


def _session_user_key(user_pk: Any) -> str:
    return f"memo:session-user:{user_pk}"


def session_user_epoch_keys(request) -> list[str]:
    """The epoch key session_user() reads for this request's session ([] without a user)."""
    user_pk = request.session.get(SESSION_KEY)
    return [] if user_pk is None else [user_epoch_key(user_pk)]


def session_user(request, *, cached: CacheRead | None = None):
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
    epochs = _epochs([user_epoch_key(user_pk)], cached)
    data = _read(key, epochs)
    if (
        data is not None
        and backend in settings.AUTHENTICATION_BACKENDS
        and constant_time_compare(session.get(HASH_SESSION_KEY) or "", data[1])
    ):
        return copy.copy(data[0])
    user = get_user(request)
    if user.is_authenticated and epochs is not None:
        _write(key, epochs, (_memo_user(user.pk), user.get_session_auth_hash()))
    return user


# ---- whether a task is watched (pages) -----------------------------------------------------------


def watched_get(
    public_id: Any, service: str, task_id: str, *, cached: CacheRead | None = None
) -> tuple[bool | None, list | None]:
    epochs = _epochs([watched_epoch_key(public_id, service, task_id)], cached)
    return _read(f"memo:watched:{public_id}:{service}:{task_id}", epochs), epochs


def watched_put(epochs: list | None, public_id: Any, service: str, task_id: str, watched) -> None:
    _write(f"memo:watched:{public_id}:{service}:{task_id}", epochs, watched)


# ---- invalidation --------------------------------------------------------------------------------


def _token_changed(sender, instance, **kwargs) -> None:
    _bump(token_epoch_key(instance.digest))


def _user_changed(sender, instance, update_fields=None, **kwargs) -> None:
    if update_fields is not None and set(update_fields) <= {"last_login"}:
        return  # a login: nothing cached changed
    _bump(user_epoch_key(instance.pk))
    for digest in ApiToken.objects.filter(user_id=instance.pk).values_list("digest", flat=True):
        _bump(token_epoch_key(digest))


def _membership_changed(sender, instance, **kwargs) -> None:
    # A membership governs exactly one user's access: that user's epoch.
    _bump(user_epoch_key(instance.user_id))


def _project_changed(sender, instance, **kwargs) -> None:
    _bump(project_epoch_key(instance.public_id))


def _tracked_changed(sender, instance, **kwargs) -> None:
    try:
        public_id = instance.project.public_id
    except ObjectDoesNotExist:  # deleted with its project, whose epoch is bumped
        return
    _bump(watched_epoch_key(public_id, instance.service, instance.task_id))


def connect() -> None:
    """Called from TasksConfig.ready()."""
    User = get_user_model()
    for signal in (post_save, post_delete):
        signal.connect(_token_changed, sender=ApiToken, dispatch_uid="memo-token")
        signal.connect(_user_changed, sender=User, dispatch_uid="memo-user")
        signal.connect(_membership_changed, sender=Membership, dispatch_uid="memo-member")
        signal.connect(_project_changed, sender=CloudProject, dispatch_uid="memo-project")
        signal.connect(_tracked_changed, sender=TrackedTask, dispatch_uid="memo-tracked")
