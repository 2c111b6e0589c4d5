"""Test-only views: rows written through one gateway are read through another."""

from django.db import connection
from django.http import JsonResponse
from django.views.decorators.csrf import csrf_exempt

from .models import Entry


@csrf_exempt
def entries(request):
    if request.method == "POST":
        Entry.objects.create(text=request.POST["text"])
    return JsonResponse({"entries": [e.text for e in Entry.objects.order_by("id")]})


def vendor(request):
    return JsonResponse({"vendor": connection.vendor})
