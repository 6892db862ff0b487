from rest_framework.pagination import PageNumberPagination


class PortalPagination(PageNumberPagination):
    """`?page=` and `?page_size=` (at most 200) on every list; a page past the end is 404."""

    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200
    page_size_query_description = "Results per page (default 50, at most 200)."
