"""Builds the upstream client for a project: the one place where secrets are decrypted.

Also the one place that tells VAS from VIAS: `task_show` dispatches on the service key (the
reserved `VIAS_SERVICE` goes to the VIAS client), so every service function keyed by
(project, service, task id) works for VIAS tasks unchanged.
"""

import threading

from django.conf import settings
from requests.auth import AuthBase

from tasks.errors import CredentialsUnavailable
from tasks.models import AuthType, CloudProject
from tasks.vas import VIAS_SERVICE
from tasks.vas.auth import AkSkAuth, IamPasswordAuth, StaticTokenAuth
from tasks.vas.client import Fetched, VasClient
from tasks.vas.vias import ViasClient

# IAM tokens are reused until shortly before expiry, so the auth object outlives a request. It is
# kept per process, in memory, never in the shared cache: a token is a secret.
_auth_objects: dict[tuple[str, int], AuthBase] = {}
_auth_lock = threading.Lock()


def _build_auth(project: CloudProject) -> AuthBase:
    secrets = project.credentials()
    try:
        if project.auth_type == AuthType.AKSK:
            return AkSkAuth(
                secrets["access_key"],
                secrets["secret_key"],
                security_token=secrets.get("security_token") or None,
                project_id=project.upstream_project_id,
            )
        if project.auth_type == AuthType.PASSWORD:
            return IamPasswordAuth(
                iam_endpoint=project.iam_endpoint,
                domain=project.iam_domain,
                user=project.iam_user,
                password=secrets["iam_password"],
                project_id=project.upstream_project_id,
                timeout=settings.PORTAL_UPSTREAM_TIMEOUT,
                # Guarded at every connection, whatever saved the address (form, API, admin).
                allowed_hosts=settings.PORTAL_UPSTREAM_ALLOWED_HOSTS,
            )
        return StaticTokenAuth(secrets["token"], project_id=project.upstream_project_id)
    except (KeyError, ValueError):
        raise CredentialsUnavailable(reason="incomplete", params={"name": project.name}) from None


def auth_for(project: CloudProject) -> AuthBase:
    # The public id is never reused (a database may reuse a deleted row's pk).
    key = (str(project.public_id), project.credentials_version)
    with _auth_lock:
        auth = _auth_objects.get(key)
    if auth is None:
        auth = _build_auth(project)
        with _auth_lock:
            # Drop objects of this project's older credentials.
            for stale in [k for k in _auth_objects if k[0] == key[0] and k != key]:
                del _auth_objects[stale]
            auth = _auth_objects.setdefault(key, auth)
    return auth


def client_for(project: CloudProject) -> VasClient:
    return VasClient(
        endpoint=project.endpoint,
        project_id=project.upstream_project_id,
        auth=auth_for(project),
        timeout=settings.PORTAL_UPSTREAM_TIMEOUT,
        allowed_hosts=settings.PORTAL_UPSTREAM_ALLOWED_HOSTS,
    )


def vias_client_for(project: CloudProject) -> ViasClient:
    """The VIAS client of a project: the same credentials and limits as VAS, its own endpoint."""
    return ViasClient(
        endpoint=project.vias_endpoint_or_default,
        project_id=project.upstream_project_id,
        auth=auth_for(project),
        timeout=settings.PORTAL_UPSTREAM_TIMEOUT,
        allowed_hosts=settings.PORTAL_UPSTREAM_ALLOWED_HOSTS,
    )


def task_show(project: CloudProject, service: str, task_id: str) -> Fetched:
    """One task document from the upstream of its service (VAS, or VIAS for `VIAS_SERVICE`)."""
    if service == VIAS_SERVICE:
        return vias_client_for(project).show_task(task_id)
    return client_for(project).show_task(service, task_id)
