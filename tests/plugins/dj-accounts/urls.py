from django.urls import path

from . import views

urlpatterns = [
    path("make-user/", views.make_user, name="make-user"),
    path("whoami/", views.whoami, name="whoami"),
]
