"""The hello view, shared by the gunicorn Django app and copied as a Django plugin's views.py."""

from django.http import HttpResponse


def hello(request):  # type: ignore[no-untyped-def]
    return HttpResponse(b'{"message":"hello"}', content_type="application/json")
