"""Delivering notifications: the message in the channel's language, the three senders (webhook,
email, Apprise), the outbound address policy, and the claim-send-record cycle of one delivery.

A delivery is claimed by a conditional UPDATE (still `pending`, due, no live lease) that sets a
lease before anything is sent: of several workers exactly one sends it; a worker killed mid-send
leaves it `pending` and another sends it when the lease has run out; a `sent` row is final.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import re
import socket
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urljoin, urlsplit

import apprise
import requests
from django.conf import settings
from django.core.mail import send_mail
from django.db.models import Q
from django.urls import NoReverseMatch, reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from tasks import crypto
from tasks.errors import PortalError, error_text
from tasks.models import (
    Channel,
    ChannelKind,
    EventKind,
    Notification,
    NotificationStatus,
    Severity,
    TaskEvent,
)
from tasks.vas.errors import EndpointNotAllowed
from tasks.vas.transport import AddressPolicy, guarded_session

logger = logging.getLogger(__name__)

#: A claimed delivery is this long the claimer's; then another worker may send it.
LEASE = timedelta(seconds=60)
#: Seconds to wait after the n-th failed attempt: 30 s doubling, six attempts over 15.5 minutes.
BACKOFF_BASE = 30
MAX_ATTEMPTS = 6
TIMEOUT = (3.0, 10.0)
MAX_REDIRECTS = 3


class NotifyRefused(PortalError):
    """A send that failed (`notification_failed`), or a target the address policy refuses
    (`invalid_channel`): a catalogue code, reason and params, never the target itself."""

    code = "notification_failed"


def _refused(reason: str, **params: Any) -> NotifyRefused:
    return NotifyRefused("invalid_channel", reason=reason, params=params)


def _failed(reason: str, **params: Any) -> NotifyRefused:
    return NotifyRefused("notification_failed", reason=reason, params=params)


# ---- the address policy --------------------------------------------------------------------------


def host_check(host: str, port: int | None = None, *, unresolved_ok: bool = False) -> None:
    """Refuses a host that PORTAL_NOTIFY_ALLOWED_HOSTS does not allow: when the list is set only
    its hosts; private, loopback, link-local and metadata addresses only when listed. Names are
    resolved and every address they resolve to is checked.

    `unresolved_ok` (when a channel is saved): a name that does not resolve now is accepted;
    it is checked again, strictly, before every send.

    The sender checks the connected address again (tasks.vas.transport): this check is what
    a user sees when saving a channel, and what guards Apprise, which connects by itself.
    """
    host = (host or "").strip().lower().strip("[]").rstrip(".")
    if not host:
        raise _refused("no_host")
    # The same policy the sender applies again at connect time (notify_policy), so a channel
    # that saves is one that can send.
    policy = notify_policy()
    if not policy.host_allowed(host):
        raise _refused("host_not_allowed", host=host)
    try:
        infos = socket.getaddrinfo(host, port or 443, proto=socket.IPPROTO_TCP)
    except (OSError, UnicodeError):
        if unresolved_ok and not _is_ip(host):
            return
        raise _refused("host_unresolved", host=host) from None
    for info in infos:
        try:
            ip = ipaddress.ip_address(str(info[4][0]).split("%", 1)[0])
        except ValueError:
            raise _refused("host_odd", host=host) from None
        if not policy.address_allowed(host, ip):
            raise _refused("host_private", host=host)


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def url_check(url: str, *, unresolved_ok: bool = False) -> None:
    """An http(s) URL whose host the policy allows (no user name or password in it)."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise _refused("url") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise _refused("scheme")
    host_check(
        parts.hostname,
        port or (443 if parts.scheme == "https" else 80),
        unresolved_ok=unresolved_ok,
    )


def apprise_check(url: str, *, unresolved_ok: bool = False) -> Any:
    """The Apprise plugin for `url`, its host checked by the policy. A service with a fixed
    endpoint (DingTalk's, Feishu's, Slack's webhook …) is checked as that host; otherwise the
    URL's host is, and a refusal never names it: in many Apprise URLs the "host" is a token."""
    plugin = apprise.Apprise.instantiate(url, asset=_asset(), suppress_exceptions=True)
    if plugin is None:
        raise _refused("apprise_unknown")
    for attribute in ("notify_url", "webhook_url"):
        fixed = getattr(type(plugin), attribute, None)
        if isinstance(fixed, str) and fixed.startswith(("http://", "https://")):
            host = urlsplit(fixed.split("{", 1)[0]).hostname
            if host:
                host_check(host, unresolved_ok=unresolved_ok)
                return plugin
    host = getattr(plugin, "host", None)
    if not host:
        raise _refused("apprise_unchecked")
    try:
        host_check(host, getattr(plugin, "port", None), unresolved_ok=unresolved_ok)
    except NotifyRefused:
        raise _refused("apprise_host") from None
    return plugin


def _asset() -> apprise.AppriseAsset:
    # Never follow a redirect from a notification service: it could point anywhere.
    return apprise.AppriseAsset(http_redirects=False)


# ---- targets -------------------------------------------------------------------------------------


_EMAIL = re.compile(r"^[^@\s,;]+@[^@\s,;]+\.[^@\s,;]+$")


def email_addresses(target: str) -> list[str]:
    return [a.strip() for a in re.split(r"[,;\s]+", target) if a.strip()]


def target_validate(kind: str, target: str) -> str:
    """The target as stored, or NotifyRefused saying what is wrong (never echoing it)."""
    target = (target or "").strip()
    if not target:
        raise _refused("target_missing")
    if len(target) > 2000:
        raise _refused("too_long")
    if kind == ChannelKind.WEBHOOK:
        url_check(target, unresolved_ok=True)
    elif kind == ChannelKind.EMAIL:
        addresses = email_addresses(target)
        if not addresses or len(addresses) > 20 or not all(_EMAIL.match(a) for a in addresses):
            raise _refused("emails")
        target = ", ".join(addresses)
    elif kind == ChannelKind.APPRISE:
        apprise_check(target, unresolved_ok=True)
    else:
        raise _refused("kind")
    return target


def target_hint(kind: str, target: str) -> str:
    """`dingtalk://…3f9a`: the scheme and the last four characters, never more."""
    bare = target.rstrip("/")
    tail = bare[-4:] if len(bare) >= 12 else ""
    if kind == ChannelKind.EMAIL:
        return f"mailto:…{tail}"
    scheme = target.split("://", 1)[0] if "://" in target else kind
    return f"{scheme[:16]}://…{tail}"


# ---- the message ---------------------------------------------------------------------------------


def event_url(event: TaskEvent) -> str:
    """The absolute link to the event's task page (the events page for project events)."""
    project = str(event.project.public_id)
    try:
        if not event.task_id:
            path = reverse("project_events", kwargs={"project": project})
        else:  # VIAS tasks too: their routes reverse with service="vias"
            path = reverse(
                "task_detail",
                kwargs={"project": project, "service": event.service, "task_id": event.task_id},
            )
    except NoReverseMatch:
        path = reverse("project_detail", kwargs={"project": project})
    return settings.PORTAL_BASE_URL + path


def duration_text(seconds: int) -> str:
    hours, rest = divmod(int(seconds), 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return _("%(h)d h %(m)d min") % {"h": hours, "m": minutes}
    if minutes:
        return _("%(m)d min %(s)d s") % {"m": minutes, "s": secs}
    return _("%(s)d s") % {"s": secs}


def _iso(value: datetime | None) -> str | None:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if value else None


def webhook_body(event: TaskEvent) -> dict[str, Any]:
    """The contract's webhook JSON."""
    return {
        "event": {
            "id": event.pk,
            "kind": event.kind,
            "severity": event.severity,
            "task": {
                "project": str(event.project.public_id),
                "service": event.service,
                "id": event.task_id,
                "name": event.task_name,
            },
            "from": event.from_state or None,
            "to": event.to_state or None,
            "changes": event.changes,
            "seen_at": _iso(event.seen_at),
            "problem_since": _iso(event.problem_since),
            "problem_seconds": event.problem_seconds,
            "url": event_url(event),
        }
    }


def change_text(event: TaskEvent) -> str:
    if event.kind == EventKind.STATE_CHANGED:
        return f"{event.from_state} → {event.to_state}"
    if event.kind == EventKind.CONFIG_CHANGED:
        return _("configuration changed: %(paths)s") % {"paths": ", ".join(event.changes[:10])}
    if event.kind == EventKind.TASK_GONE:
        return _("the task is gone (the upstream answered 404)")
    if event.kind == EventKind.TASK_BACK:
        return _("the task is back (%(state)s)") % {"state": event.to_state}
    if event.kind == EventKind.UPSTREAM_FAILING:
        return _("every upstream call of the project fails (%(code)s)") % {"code": event.error_code}
    return _("the upstream answers again")


def message_build(event: TaskEvent, language: str) -> tuple[str, str]:
    """(title, body) of a notification in `language` (en or zh-hans)."""
    with translation.override(language):
        severity: str = {
            str(Severity.PROBLEM): _("Problem"),
            str(Severity.RECOVERY): _("Recovery"),
            str(Severity.INFO): _("Info"),
        }.get(event.severity, event.severity)
        subject = event.task_name or event.task_id or event.project.name
        title = f"[{severity}] {event.project.name}: {subject} {change_text(event)}"
        lines = [
            _("Project: %(name)s") % {"name": event.project.name},
        ]
        if event.task_id:
            lines.append(
                _("Task: %(name)s (%(id)s), service %(service)s")
                % {"name": event.task_name, "id": event.task_id, "service": event.service}
            )
        lines.append(_("Change: %(change)s") % {"change": change_text(event)})
        if event.status_text:
            lines.append(_("Status: %(status)s") % {"status": event.status_text})
        if event.error_text:
            lines.append(_("Error: %(error)s") % {"error": event.error_text})
        if event.request_id:
            lines.append(_("Upstream request id: %(id)s") % {"id": event.request_id})
        lines.append(_("Seen at: %(when)s") % {"when": _iso(event.seen_at)})
        if event.problem_seconds is not None:
            lines.append(
                _("The problem lasted %(duration)s (since %(since)s).")
                % {
                    "duration": duration_text(event.problem_seconds),
                    "since": _iso(event.problem_since),
                }
            )
        lines.append(event_url(event))
    return title[:250], "\n".join(lines)


# ---- senders -------------------------------------------------------------------------------------


def notify_policy() -> AddressPolicy:
    """PORTAL_NOTIFY_ALLOWED_HOSTS as the upstream transport's address policy (empty: any public
    host), applied again when the socket connects (no DNS rebinding between check and send)."""
    hosts = [h for h in settings.PORTAL_NOTIFY_ALLOWED_HOSTS if h.strip()]
    return AddressPolicy.from_hosts(
        hosts, any_public_host=not hosts, setting="PORTAL_NOTIFY_ALLOWED_HOSTS"
    )


def _post_json(url: str, body: dict[str, Any], headers: dict[str, str]) -> None:
    """POSTs JSON, following at most a few redirects, each target checked by the policy before
    the portal connects to it, and the connected address checked at connect time."""
    session = guarded_session(notify_policy(), retry_methods=())
    for _hop in range(MAX_REDIRECTS + 1):
        url_check(url)
        try:
            response = session.post(
                url,
                json=body,
                headers={"User-Agent": "vas-portal-monitor", **headers},
                timeout=TIMEOUT,
                allow_redirects=False,
            )
        except EndpointNotAllowed:
            raise _refused("host_private", host=urlsplit(url).hostname or "") from None
        except requests.Timeout:
            raise _failed("timeout") from None
        except requests.RequestException:
            raise _failed("unreachable") from None
        with response:
            if response.is_redirect and response.headers.get("Location"):
                url = urljoin(url, response.headers["Location"])
                continue
            if 200 <= response.status_code < 300:
                return
            raise _failed("http", status=response.status_code)
    raise _failed("redirects")


def _send_apprise(url: str, title: str, body: str) -> None:
    plugin = apprise_check(url)
    sender = apprise.Apprise(asset=_asset())
    sender.add(plugin)
    with apprise.LogCapture(level=logging.WARNING) as captured:
        ok = sender.notify(title=title, body=body)
    if not ok:
        # Apprise's log lines can quote the URL (a secret): keep only an HTTP status from them.
        found = re.search(r"\b(?:error|code|status)[=: ]+(\d{3})\b", captured.getvalue() or "")
        if found:
            raise _failed("apprise_http", status=found.group(1))
        raise _failed("apprise")


def _send_email(addresses: list[str], title: str, body: str) -> None:
    try:
        send_mail(title, body, settings.DEFAULT_FROM_EMAIL, addresses, fail_silently=False)
    except Exception as exc:  # SMTP and socket errors alike; their text may name the server
        raise _failed("email", error=type(exc).__name__) from None


def channel_send(channel: Channel, *, title: str, body: str, payload: dict[str, Any]) -> None:
    """Sends one message through a channel; NotifyRefused says why it did not go out."""
    try:
        target = channel.target()
    except crypto.InvalidToken:
        raise _failed("undecryptable") from None
    if channel.kind == ChannelKind.WEBHOOK:
        headers = json.loads(crypto.decrypt(channel.headers_enc)) if channel.headers_enc else {}
        _post_json(target, payload, headers)
    elif channel.kind == ChannelKind.EMAIL:
        _send_email(email_addresses(target), title, body)
    else:
        _send_apprise(target, title, body)


# ---- one delivery --------------------------------------------------------------------------------


@dataclass
class Delivered:
    status: str
    error: str = ""


def notification_deliver(*, notification_id: int) -> Delivered | None:
    """Claims, sends and records one delivery; None when it is not this worker's to send (sent,
    failed, not due, or claimed by a live lease)."""
    now = timezone.now()
    lease = now + LEASE
    free = Q(lease_until__isnull=True) | Q(lease_until__lt=now)
    won = Notification.objects.filter(
        free, pk=notification_id, status=NotificationStatus.PENDING, next_attempt_at__lte=now
    ).update(lease_until=lease)
    if not won:
        return None
    delivery = Notification.objects.select_related("event__project", "channel").get(
        pk=notification_id
    )
    attempts = delivery.attempts + 1
    mine = Notification.objects.filter(pk=notification_id, lease_until=lease)
    event, channel = delivery.event, delivery.channel
    try:
        title, body = message_build(event, channel.language)
        channel_send(channel, title=title, body=body, payload=webhook_body(event))
    except NotifyRefused as exc:
        error = error_text(exc)[:500]
        done = attempts >= MAX_ATTEMPTS
        mine.update(
            attempts=attempts,
            last_error=error,
            lease_until=None,
            status=NotificationStatus.FAILED if done else NotificationStatus.PENDING,
            next_attempt_at=timezone.now() + timedelta(seconds=BACKOFF_BASE * 2 ** (attempts - 1)),
        )
        logger.info("notification %s attempt %s failed: %s", notification_id, attempts, error)
        return Delivered(NotificationStatus.FAILED if done else NotificationStatus.PENDING, error)
    mine.update(
        attempts=attempts,
        status=NotificationStatus.SENT,
        sent_at=timezone.now(),
        last_error="",
        lease_until=None,
    )
    return Delivered(NotificationStatus.SENT)


def deliveries_due(*, horizon: float = 0.0, limit: int = 500) -> list[tuple[int, datetime]]:
    """Pending deliveries due within `horizon` seconds and not under a live lease (the sweep's
    list: a worker killed mid-send leaves its row here once the lease has run out)."""
    now = timezone.now()
    return list(
        Notification.objects.filter(
            Q(lease_until__isnull=True) | Q(lease_until__lt=now),
            status=NotificationStatus.PENDING,
            next_attempt_at__lte=now + timedelta(seconds=horizon),
        )
        .order_by("next_attempt_at")
        .values_list("pk", "next_attempt_at")[:limit]
    )
