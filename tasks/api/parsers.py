"""JSON bodies only, and only up to a size: a bigger body is 413 before it is read in full."""

import io

from django.conf import settings
from django.utils.text import format_lazy
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from rest_framework import exceptions, parsers, status

#: Request bodies the API accepts (project and member writes are a few hundred bytes).
MAX_BODY_BYTES = 256 * 1024


class RequestTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = format_lazy(
        gettext_lazy("The request body is larger than {size} KiB."), size=MAX_BODY_BYTES // 1024
    )
    default_code = "request_too_large"


class JSONParser(parsers.JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        request = (parser_context or {}).get("request")
        limit = min(MAX_BODY_BYTES, settings.DATA_UPLOAD_MAX_MEMORY_SIZE or MAX_BODY_BYTES)
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0) if request else 0
        except ValueError:
            length = 0
        if length > limit:
            raise RequestTooLarge()
        data = stream.read(limit + 1)
        if len(data) > limit:
            raise RequestTooLarge()
        try:
            return super().parse(io.BytesIO(data), media_type, parser_context)
        except RecursionError:
            # "[[[[…" nested deeper than Python's json module can follow.
            raise exceptions.ParseError(_("JSON parse error - nested too deeply.")) from None
