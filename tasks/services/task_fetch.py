"""Every page and API call that needs a task goes through `task_fetch`.

Cache (per project, service and task id; an entry of older credentials is a miss) → upstream
budget → single-flight upstream call → deduplicated snapshot → stale-if-error. What lives in the
cache is the redacted task document and bookkeeping, never a secret. A caller that read the cache
for its whole request already (tasks.caching.read) hands that read in (`cached=`).
"""

import json
import re
import time
import uuid
from datetime import UTC, datetime
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.utils import timezone

from tasks.caching.locks import NamedLock
from tasks.caching.ratelimit import rate_hit, upstream_budget_take
from tasks.caching.read import CacheRead
from tasks.errors import (
    CredentialsUnavailable,
    PortalError,
    roi_for_reader,
    stored_contract_error,
    stored_error,
)
from tasks.models import CloudProject, TaskSnapshot, TrackedTask
from tasks.roi import roi_for_task
from tasks.services.audit import audit_record
from tasks.services.snapshots import snapshot_mark_gone, snapshot_newest, snapshot_record
from tasks.upstream import task_show
from tasks.vas import errors as vas_errors
from tasks.vas.client import Fetched

IDENTIFIER = re.compile(r"^[A-Za-z0-9_-]{1,64}$")

#: Beyond the upstream call's deadline, what a fetch still does (store the snapshot, the cache).
LOCK_SLACK = 2.0
WAIT_STEP = 0.05
#: After a failure, refreshes of that task are held this long (a 429's Retry-After, capped).
BACKOFF_SECONDS = 5
BACKOFF_MAX = 60
NOT_FOUND_SECONDS = 10
#: Cached copies are kept past their TTL to answer while revalidating and when upstream fails.
KEEP_STALE_SECONDS = 3600

# Errors that a stale copy must not hide: the task is gone, or the request itself is wrong.
_NOT_HIDDEN = (vas_errors.TaskNotFound, vas_errors.UpstreamBadRequest)


def json_bytes(data: Any) -> bytes:
    """Compact UTF-8 JSON, as the API answers it (DRF's JSONRenderer settings)."""
    text = json.dumps(data, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    return text.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029").encode()


class TaskResult:
    """A task as the pages and the API show it: `{task, roi, meta}` plus its tracked row.

    The cache keeps the task and its ROI as JSON: a cached API answer is spliced from those bytes
    (`as_json()`), and the documents are decoded only when read. `roi` and `meta.error` hold
    messages as data (code, params); `as_json()`/`as_dict()` put them in the reader's words."""

    def __init__(
        self,
        *,
        meta: dict[str, Any],
        task: dict[str, Any] | None = None,
        roi: dict[str, Any] | None = None,
        task_json: bytes | None = None,
        roi_json: bytes | None = None,
        tracked: TrackedTask | None = None,
        changed: bool | None = None,
    ) -> None:
        self.meta = meta
        self._task, self._roi = task, roi
        self._task_json, self._roi_json = task_json, roi_json
        self.tracked = tracked
        #: Whether this fetch added a new version (None when nothing was fetched from upstream).
        self.changed = changed

    @property
    def task(self) -> dict[str, Any]:
        if self._task is None:
            assert self._task_json is not None  # one of the two is always given
            self._task = json.loads(self._task_json)
        return self._task

    @property
    def roi(self) -> dict[str, Any]:
        if self._roi is None:
            self._roi = json.loads(self._roi_json) if self._roi_json else roi_for_task(self.task)
        return self._roi

    def roi_json(self) -> bytes:
        """The contract's `roi`, problems in the active language (the cached bytes as they are
        when there is no problem to word: the usual case)."""
        if self._roi_json is not None and self._roi_json.endswith(b',"problems":[]}'):
            return self._roi_json
        return json_bytes(roi_for_reader(self.roi))

    def reader_meta(self) -> dict[str, Any]:
        """`meta` with a stale copy's error as the contract shows it, in the active language."""
        error = self.meta.get("error")
        return {**self.meta, "error": stored_contract_error(error)} if error else self.meta

    def as_dict(self) -> dict[str, Any]:
        return {"task": self.task, "roi": roi_for_reader(self.roi), "meta": self.reader_meta()}

    def as_json(self) -> bytes:
        task = self._task_json if self._task_json is not None else json_bytes(self.task)
        meta = json_bytes(self.reader_meta())
        return b'{"task":%s,"roi":%s,"meta":%s}' % (task, self.roi_json(), meta)


def iso_utc(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def validate_service(service: str) -> None:
    """Refuses an impossible service name before any I/O (it would also be path injection)."""
    if not isinstance(service, str) or not IDENTIFIER.match(service):
        raise PortalError("invalid_service", params={"value": str(service)[:80]})


def validate_identifiers(*, service: str, task_id: str) -> None:
    """Refuses impossible names before any I/O (they would also be path injection)."""
    validate_service(service)
    if not isinstance(task_id, str) or not IDENTIFIER.match(task_id):
        raise PortalError("invalid_task_id", params={"value": str(task_id)[:80]})


def identifiers_valid(*, service: str, task_id: str) -> bool:
    return (
        isinstance(service, str)
        and isinstance(task_id, str)
        and bool(IDENTIFIER.match(service) and IDENTIFIER.match(task_id))
    )


def upstream_deadline() -> float:
    """The longest an upstream call may take (the client's deadline: connect + read + 2 s)."""
    connect, read = settings.PORTAL_UPSTREAM_TIMEOUT
    return connect + read + 2.0


def lock_timeout() -> float:
    """How long a fetch's lock outlives a holder that died: the fetch's own bound, no more."""
    return upstream_deadline() + LOCK_SLACK


def task_cache_key(project: CloudProject | uuid.UUID | str, service: str, task_id: str) -> str:
    """Where the task is cached: a function of the URL (the project's public id, given as the
    project or the id itself, service, task id). The entry records the credentials version it was
    fetched with; under other credentials it is a miss (task_cache_entry), so replaced credentials
    never see old answers."""
    return f"task:{getattr(project, 'public_id', project)}:{service}:{task_id}"


def task_cache_entry(
    project: CloudProject, key: str, cached: CacheRead | None = None
) -> dict[str, Any] | None:
    """The cached entry under `key` if it was fetched with the project's current credentials
    (from the request's read when it holds the key)."""
    found = cached.get_many([key]) if cached is not None else None
    entry = found.get(key) if found is not None else cache.get(key)
    if entry is None or entry.get("credentials_version") != project.credentials_version:
        return None
    return entry


def refresh_allow(actor) -> None:
    """Counts a forced refresh against PORTAL_REFRESH_RATE (per user)."""
    if actor is None or not getattr(actor, "is_authenticated", False):
        return
    wait = rate_hit(f"refresh:{actor.pk}", settings.PORTAL_REFRESH_RATE)
    if wait is not None:
        raise PortalError("throttled", reason="refresh", retry_after=wait)


def _result(entry: dict[str, Any], source: str, now: float, error=None) -> TaskResult:
    return TaskResult(
        task=entry.get("task"),
        task_json=entry.get("task_json"),
        # Normalised once per fetch and cached with the task.
        roi_json=entry.get("roi_json"),
        meta={
            "source": source,
            "fetched_at": iso_utc(entry["fetched_at"]),
            "age_seconds": max(0, int(now - entry["fetched_at"])),
            "snapshot_id": entry.get("snapshot_id"),
            "upstream_request_id": entry.get("request_id"),
            "error": error,
        },
    )


def snapshot_result(*, snapshot: TaskSnapshot) -> TaskResult:
    """A stored version shaped like a live answer; meta.source is "snapshot"."""
    return TaskResult(
        task=snapshot.payload,
        roi=roi_for_task(snapshot.payload, snapshot.task.frame_size),
        meta={
            "source": "snapshot",
            "fetched_at": iso_utc(snapshot.last_seen.timestamp()),
            "age_seconds": max(0, int((timezone.now() - snapshot.last_seen).total_seconds())),
            "snapshot_id": snapshot.pk,
            "upstream_request_id": snapshot.upstream_request_id or None,
            "error": None,
        },
        tracked=snapshot.task,
    )


def _snapshot_entry(snapshot: TaskSnapshot) -> dict[str, Any]:
    return {
        "task": snapshot.payload,
        "fetched_at": snapshot.last_seen.timestamp(),
        "request_id": snapshot.upstream_request_id or None,
        "snapshot_id": snapshot.pk,
    }


def _remember_failure(key: str, exc: Exception, now: float) -> None:
    if isinstance(exc, vas_errors.TaskNotFound):
        seconds = NOT_FOUND_SECONDS
    else:
        retry_after = getattr(exc, "retry_after", None) or 0
        seconds = min(BACKOFF_MAX, max(BACKOFF_SECONDS, retry_after))
    cache.set(
        f"backoff:{key}",
        {
            "code": exc.code,  # type: ignore[attr-defined]
            "reason": getattr(exc, "reason", ""),
            "params": getattr(exc, "params", {}),
            "status": getattr(exc, "status", None),
            "error_code": getattr(exc, "error_code", None),
            "error_msg": getattr(exc, "error_msg", None),
            "request_id": getattr(exc, "request_id", None),
            # VIAS' richer error body, shown again while the failure is remembered.
            "extras": getattr(exc, "extras", {}),
            "until": now + seconds,
        },
        timeout=seconds,
    )


def _active_failure(key: str, now: float) -> dict[str, Any] | None:
    # Checked against our clock too, not only the cache's expiry (Redis keeps its own time).
    failure = cache.get(f"backoff:{key}")
    return failure if failure is not None and failure["until"] > now else None


def _remembered_error(failure: dict[str, Any], now: float) -> Exception:
    code, reason, params = failure["code"], failure.get("reason", ""), failure.get("params")
    if code not in vas_errors.VasError.by_code and code != vas_errors.VasError.code:
        return PortalError(code, reason=reason, params=params)
    error = vas_errors.VasError.for_code(code)(
        reason,
        params=params,
        status=failure["status"],
        error_code=failure["error_code"],
        error_msg=failure["error_msg"],
        request_id=failure["request_id"],
        retry_after=max(1.0, failure["until"] - now),
    )
    error.extras = dict(failure.get("extras") or {})
    return error


def _stale_or_raise(
    *,
    project: CloudProject,
    service: str,
    task_id: str,
    entry: dict[str, Any] | None,
    exc: Exception,
    now: float,
) -> TaskResult:
    if isinstance(exc, _NOT_HIDDEN):
        raise exc
    if entry is None:
        snapshot = snapshot_newest(project=project, service=service, task_id=task_id)
        entry = _snapshot_entry(snapshot) if snapshot else None
    if entry is None:
        raise exc
    return _result(entry, "stale", now, error=stored_error(exc))


def _fetch_upstream(
    *, project: CloudProject, service: str, task_id: str, key: str, entry, now: float, actor=None
) -> TaskResult:
    # Every call that reaches the upstream spends the user's and the project's budget; over it, a
    # copy the portal has is still an answer.
    try:
        upstream_budget_take(project=project, user=actor)
    except PortalError as exc:
        if entry is None:
            raise
        return _result(entry, "stale", now, error=stored_error(exc))
    try:
        fetched = task_show(project, service, task_id)
    except (vas_errors.VasError, CredentialsUnavailable) as exc:
        _remember_failure(key, exc, now)
        if isinstance(exc, vas_errors.TaskNotFound):
            snapshot_mark_gone(
                project=project, service=service, task_id=task_id, now=timezone.now()
            )
        return _stale_or_raise(
            project=project, service=service, task_id=task_id, entry=entry, exc=exc, now=now
        )
    return task_record_fetched(
        project=project, service=service, task_id=task_id, fetched=fetched, key=key
    )


def task_record_fetched(
    *, project: CloudProject, service: str, task_id: str, fetched: Fetched, key: str | None = None
) -> TaskResult:
    """Stores a task just fetched from the upstream (its payload redacted) as every fetch does:
    a snapshot when it changed, the cache, no back-off. The one path after an upstream answer,
    also for the action services' own fetches."""
    key = key or task_cache_key(project, service, task_id)
    tracked, snapshot, changed = snapshot_record(
        project=project,
        service=service,
        task_id=task_id,
        payload=fetched.payload,
        request_id=fetched.request_id,
        now=timezone.now(),
    )
    fresh = {
        "task_json": json_bytes(fetched.payload),
        # The tracked row carries the reference still's size: no query of its own.
        "roi_json": json_bytes(roi_for_task(fetched.payload, tracked.frame_size)),
        "fetched_at": time.time(),
        "request_id": fetched.request_id,
        "snapshot_id": snapshot.pk,
        "credentials_version": project.credentials_version,
    }
    if project.cache_ttl > 0:
        cache.set(key, fresh, timeout=project.cache_ttl + KEEP_STALE_SECONDS)
    cache.delete(f"backoff:{key}")
    result = _result({**fresh, "task": fetched.payload}, "upstream", time.time())
    result.tracked, result.changed = tracked, changed
    return result


def _frame_size(project: CloudProject, service: str, task_id: str) -> tuple[int, int] | None:
    from tasks.services.frames import frame_size  # frames builds on this module

    return frame_size(project=project, service=service, task_id=task_id)


def task_cache_roi_refresh(*, project: CloudProject, service: str, task_id: str) -> None:
    """The cached task's ROI again, over the task's reference still as it is now (after an
    upload or a delete): the next page or API answer shows the new frame without a refetch."""
    key = task_cache_key(project, service, task_id)
    entry = cache.get(key)
    if entry is None or project.cache_ttl <= 0:
        return
    task = entry.get("task") or json.loads(entry["task_json"])
    entry["roi_json"] = json_bytes(roi_for_task(task, _frame_size(project, service, task_id)))
    remaining = project.cache_ttl + KEEP_STALE_SECONDS - (time.time() - entry["fetched_at"])
    if remaining > 0:
        cache.set(key, entry, timeout=remaining)


def _wait_for_other(
    *, project: CloudProject, service: str, task_id: str, key: str, since: float, actor=None
) -> TaskResult:
    """Another request holds the lock and nothing usable is cached: wait for its answer, at most
    as long as its upstream call may take; if its lock is freed without an answer (its holder died
    and the lock expired), fetch instead."""
    wait = lock_timeout()
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        time.sleep(WAIT_STEP)
        entry = task_cache_entry(project, key)
        if entry is not None and entry["fetched_at"] >= since - 1:
            return _result(entry, "cache", time.time())
        failure = _active_failure(key, time.time())
        if failure is not None:
            return _stale_or_raise(
                project=project,
                service=service,
                task_id=task_id,
                entry=entry,
                exc=_remembered_error(failure, time.time()),
                now=time.time(),
            )
        lock = NamedLock(key, timeout=wait)
        if lock.acquire():
            try:
                return _fetch_upstream(
                    project=project,
                    service=service,
                    task_id=task_id,
                    key=key,
                    entry=None,
                    now=time.time(),
                    actor=actor,
                )
            finally:
                lock.release()
    raise vas_errors.UpstreamUnavailable("busy", retry_after=1.0)


def task_fetch(
    *,
    project: CloudProject,
    service: str,
    task_id: str,
    refresh: bool = False,
    actor=None,
    cached: CacheRead | None = None,
) -> TaskResult:
    """The task, from cache when fresh, else from upstream (one caller at a time per task, within
    the user's and the project's upstream budget), else a stale copy with the error, else the
    typed error. `cached`: the request's cache read, when it read this task's key.

    A cache hit makes no upstream call and no database query.
    """
    validate_identifiers(service=service, task_id=task_id)
    if refresh and actor is not None:  # a person's forced refresh (poll_tasks passes no actor)
        refresh_allow(actor)
        audit_record(
            actor=actor, project=project, action="task.refreshed", service=service, task_id=task_id
        )
    now = time.time()
    key = task_cache_key(project.public_id, service, task_id)
    if project.cache_ttl <= 0:
        return _fetch_upstream(
            project=project,
            service=service,
            task_id=task_id,
            key=key,
            entry=None,
            now=now,
            actor=actor,
        )

    entry = task_cache_entry(project, key, cached)
    if entry is not None and not refresh and now - entry["fetched_at"] < project.cache_ttl:
        return _result(entry, "cache", now)

    failure = _active_failure(key, now)
    if failure is not None:  # failed moments ago: answer without asking upstream again
        return _stale_or_raise(
            project=project,
            service=service,
            task_id=task_id,
            entry=entry,
            exc=_remembered_error(failure, now),
            now=now,
        )

    lock = NamedLock(key, timeout=lock_timeout())
    if not lock.acquire():
        if entry is not None and not refresh:
            return _result(entry, "cache", now)  # stale-while-revalidate
        return _wait_for_other(
            project=project, service=service, task_id=task_id, key=key, since=now, actor=actor
        )
    try:
        # Another holder may have refreshed between our read and our lock.
        latest = task_cache_entry(project, key)
        if latest is not None and (
            latest["fetched_at"] >= now
            or (not refresh and time.time() - latest["fetched_at"] < project.cache_ttl)
        ):
            return _result(latest, "cache", time.time())
        return _fetch_upstream(
            project=project,
            service=service,
            task_id=task_id,
            key=key,
            entry=entry,
            now=now,
            actor=actor,
        )
    finally:
        lock.release()
