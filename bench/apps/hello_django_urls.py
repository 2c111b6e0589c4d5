"""A Django plugin's urls.py (copied next to hello_django_views.py as views.py)."""

from django.urls import path

from . import views

urlpatterns = [path("", views.hello)]
