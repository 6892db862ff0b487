"""Notification channels (admins): create, change, delete, send a test. The target is a secret:
validated against the address policy, stored encrypted, shown only as a hint, never audited."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from tasks import crypto
from tasks.errors import PortalError, error_text
from tasks.models import Channel, ChannelKind, ChannelLanguage, CloudProject, Severity, TaskEvent
from tasks.services.audit import audit_record
from tasks.services.notify import (
    NotifyRefused,
    channel_send,
    message_build,
    target_hint,
    target_validate,
    webhook_body,
)

SEVERITIES = [s.value for s in Severity]
MAX_HEADERS = 10


class InvalidChannel(PortalError):
    """A channel that cannot be stored: a bad target, a host not allowed, a bad field."""

    code = "invalid_channel"


def _clean_headers(headers: Any) -> dict[str, str]:
    if headers in (None, ""):
        return {}
    if not isinstance(headers, Mapping) or len(headers) > MAX_HEADERS:
        raise InvalidChannel(reason="headers")
    clean = {}
    for name, value in headers.items():
        if not isinstance(name, str) or not isinstance(value, str) or not name.strip():
            raise InvalidChannel(reason="headers")
        if any(not (" " <= c <= "~") for c in name + value):
            raise InvalidChannel(reason="header_chars")
        clean[name.strip()] = value
    return clean


def _apply(
    channel: Channel, fields: Mapping[str, Any], target: str | None, headers: Any
) -> list[str]:
    changed = []
    if "name" in fields:
        name = str(fields["name"] or "").strip()
        if not 1 <= len(name) <= 100:
            raise InvalidChannel(reason="name")
        channel.name = name
        changed.append("name")
    if "kind" in fields:
        if fields["kind"] not in ChannelKind.values:
            raise InvalidChannel(reason="kind")
        if channel.pk and fields["kind"] != channel.kind and not target:
            raise InvalidChannel(reason="kind_target")
        channel.kind = fields["kind"]
        changed.append("kind")
    if "severities" in fields:
        severities = fields["severities"]
        if (
            not isinstance(severities, list | tuple)
            or not severities
            or any(s not in SEVERITIES for s in severities)
        ):
            raise InvalidChannel(reason="severities")
        channel.severities = [s for s in SEVERITIES if s in severities]
        changed.append("severities")
    if "language" in fields:
        if fields["language"] not in ChannelLanguage.values:
            raise InvalidChannel(reason="language")
        channel.language = fields["language"]
        changed.append("language")
    if "enabled" in fields:
        channel.enabled = bool(fields["enabled"])
        changed.append("enabled")
    if target:
        try:
            target = target_validate(channel.kind, target)
        except NotifyRefused as exc:  # the address policy's reason, with its params
            raise InvalidChannel(reason=exc.reason, params=exc.params) from None
        channel.target_enc = crypto.encrypt(target)
        channel.target_hint = target_hint(channel.kind, target)
        changed += ["target_enc", "target_hint"]
    elif not channel.target_enc:
        raise InvalidChannel(reason="target_missing")
    if headers is not None:
        clean = _clean_headers(headers)
        if clean and channel.kind != ChannelKind.WEBHOOK:
            raise InvalidChannel(reason="headers_kind")
        channel.headers_enc = crypto.encrypt(json.dumps(clean)) if clean else ""
        changed.append("headers_enc")
    return changed


def _save(channel: Channel, **kwargs: Any) -> None:
    try:
        with transaction.atomic():
            channel.save(**kwargs)
    except IntegrityError:
        raise InvalidChannel(reason="duplicate") from None


@transaction.atomic
def channel_create(
    *,
    actor,
    project: CloudProject,
    fields: Mapping[str, Any],
    target: str,
    headers: Any = None,
) -> Channel:
    channel = Channel(project=project, kind=fields.get("kind") or "")
    if channel.kind not in ChannelKind.values:
        raise InvalidChannel(reason="kind")
    _apply(channel, {"name": "", **fields}, target, headers)
    _save(channel)
    audit_record(
        actor=actor, project=project, action="channel.created", name=channel.name, kind=channel.kind
    )
    return channel


@transaction.atomic
def channel_update(
    *,
    actor,
    channel: Channel,
    fields: Mapping[str, Any],
    target: str | None = None,
    headers: Any = None,
) -> Channel:
    channel = Channel.objects.select_for_update().get(pk=channel.pk)
    changed = _apply(channel, fields, target, headers)
    if changed:
        _save(channel, update_fields=[*dict.fromkeys(changed), "updated_at"])
        audit_record(
            actor=actor,
            project=channel.project,
            action="channel.updated",
            name=channel.name,
            # A new target or new headers are named, never shown.
            fields=sorted(
                {"target" if f.startswith("target") else f.removesuffix("_enc") for f in changed}
            ),
        )
    return channel


@transaction.atomic
def channel_delete(*, actor, channel: Channel) -> None:
    audit_record(
        actor=actor,
        project=channel.project,
        action="channel.deleted",
        name=channel.name,
        kind=channel.kind,
    )
    channel.delete()


def channel_test(*, actor, channel: Channel) -> tuple[bool, str]:
    """Sends a test message now. Never raises for a send that fails: (False, why)."""
    project = channel.project
    event = TaskEvent(
        pk=0,
        project=project,
        service=project.default_service,
        task_id="test",
        task_name=_("Test message"),
        kind="state_changed",
        severity=Severity.INFO,
        from_state="RUNNING",
        to_state="RUNNING",
        seen_at=timezone.now(),
    )
    title, body = message_build(event, channel.language)
    title = _("[Test] %(title)s") % {"title": title}
    try:
        channel_send(channel, title=title, body=body, payload=webhook_body(event))
    except NotifyRefused as exc:
        ok, message = False, error_text(exc)
    else:
        ok, message = True, _("The test message was sent.")
    audit_record(actor=actor, project=project, action="channel.tested", name=channel.name, ok=ok)
    return ok, message
