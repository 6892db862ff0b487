from django.core.paginator import InvalidPage
from rest_framework.pagination import PageNumberPagination

from tasks.errors import NotFound


class PortalPagination(PageNumberPagination):
    """`?page=` and `?page_size=` (at most 200) on every list; a page past the end is 404."""

    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200
    page_size_query_description = "Results per page (default 50, at most 200)."


class LazyPagination(PortalPagination):
    """As PortalPagination, but the page's rows stay an unevaluated queryset (DRF's own makes a
    list of them): a view that finds the page already serialised never loads them."""

    def paginate_queryset(self, queryset, request, view=None):
        self.request = request
        paginator = self.django_paginator_class(queryset, self.get_page_size(request))
        page_number = self.get_page_number(request, paginator)
        try:
            self.page = paginator.page(page_number)
        except InvalidPage as exc:
            raise NotFound(reason="page") from exc
        return self.page.object_list
