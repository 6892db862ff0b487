"""Django's WSGI handler, reusing the URL match portal.middleware.ReadAheadMiddleware made for
the same request instead of resolving the path a second time."""

from django.core.handlers.wsgi import WSGIHandler


class PortalWSGIHandler(WSGIHandler):
    def resolve_request(self, request):
        early = getattr(request, "readahead_match", None)
        if early is not None and not hasattr(request, "urlconf") and early[0] == request.path_info:
            request.resolver_match = early[1]
            return early[1]
        return super().resolve_request(request)
