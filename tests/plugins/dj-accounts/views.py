"""Test-only views: create a staff user so the test can log in through the admin."""

from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.http import JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST


@csrf_exempt
@require_POST
def make_user(request):
    user, _ = get_user_model().objects.get_or_create(username=request.POST["username"])
    user.set_password(request.POST["password"])
    user.is_staff = user.is_superuser = True
    user.save()
    return JsonResponse({"created": user.username})


@login_required
def whoami(request):
    return JsonResponse({"user": request.user.get_username()})
