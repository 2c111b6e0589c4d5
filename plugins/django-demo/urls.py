from django.urls import path

from . import views

urlpatterns = [
    path("", views.index, name="index"),
    path("notes/", views.notes, name="notes"),
    path("notes/new", views.new_note, name="new-note"),
    path("private/", views.private, name="private"),
]
