from tasks.models import AuditEvent, CloudProject


def audit_record(*, actor, project: CloudProject | None, action: str, **details) -> AuditEvent:
    """One audit row. Callers pass no secret values: replaced secrets are named as "changed"."""
    return AuditEvent.objects.create(
        actor=actor if actor is not None and actor.is_authenticated else None,
        actor_username=actor.get_username() if actor is not None and actor.is_authenticated else "",
        project=project,
        project_name=project.name if project else "",
        action=action,
        details=details,
    )
