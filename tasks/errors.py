"""Portal-level errors that both the HTML views and the API turn into the contract's messages."""


class PortalError(Exception):
    """An error with a stable contract code, the HTTP status the portal answers with, and a message
    that says what happened and what to do. Never carries a secret."""

    code = "error"
    http_status = 400

    def __init__(self, message: str, *, code: str | None = None, http_status: int | None = None):
        super().__init__(message)
        self.message = message
        if code:
            self.code = code
        if http_status:
            self.http_status = http_status


class InvalidIdentifier(PortalError):
    """A task id or service name that cannot be valid; raised before any I/O."""


class CredentialsUnavailable(PortalError):
    """The project's stored secrets cannot be decrypted (unknown key) or are missing."""

    code = "credentials_unavailable"
    http_status = 409


class EditConflict(PortalError):
    """An edit based on a version of a project that someone else has changed since."""

    code = "edit_conflict"
    http_status = 409


class OtpRequired(PortalError):
    """Two-factor login: a code is needed (or, when required, enrolment comes first)."""

    code = "otp_required"
    http_status = 401


class OtpInvalid(PortalError):
    """Two-factor login: the code given is wrong, used or throttled."""

    code = "otp_invalid"
    http_status = 401
