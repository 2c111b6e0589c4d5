"""Views of the django-demo plugin, a Django app served by the gateway under /django-demo."""

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from .models import Note


def index(request: HttpRequest) -> HttpResponse:
    context = {"notes": Note.objects.order_by("-created")[:20], "admin_url": reverse("admin:index")}
    return render(request, "django_demo/index.html", context)


def notes(request: HttpRequest) -> JsonResponse:
    return JsonResponse(
        {"notes": [n.title for n in Note.objects.order_by("id")], "url": reverse("notes")}
    )


@csrf_exempt  # an example API endpoint; forms served by Django keep their CSRF token
@require_POST
def new_note(request: HttpRequest) -> HttpResponse:
    Note.objects.create(title=request.POST.get("title", "untitled"))
    return redirect("notes")


@login_required
def private(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"user": request.user.get_username()})
