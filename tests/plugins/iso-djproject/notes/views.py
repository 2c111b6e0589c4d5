import os

from django.conf import settings
from django.http import JsonResponse
from django.urls import reverse

from .models import Note


def index(request):
    return JsonResponse(
        {
            "settings": os.environ["DJANGO_SETTINGS_MODULE"],
            "database": str(settings.DATABASES["default"]["NAME"]),
            "notes": [n.text for n in Note.objects.all()],
            "admin": reverse("admin:index"),
            "script_name": request.META["SCRIPT_NAME"],
        }
    )
