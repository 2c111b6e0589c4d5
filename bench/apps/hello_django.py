"""The hello app in Django for gunicorn: one module, ``settings.configure``.

Installed apps and middleware are Django's ``startproject`` defaults, which is also what the
gateway's Django runtime uses, so both sides run the same middleware stack.
"""

import tempfile

from django.conf import settings
from django.urls import path

settings.configure(
    DEBUG=False,
    SECRET_KEY="bench-only-not-a-secret-0123456789abcdefghijklmnopqrstuvwxyz",
    ALLOWED_HOSTS=["*"],
    ROOT_URLCONF=__name__,
    INSTALLED_APPS=[
        "django.contrib.admin",
        "django.contrib.auth",
        "django.contrib.contenttypes",
        "django.contrib.sessions",
        "django.contrib.messages",
        "django.contrib.staticfiles",
    ],
    MIDDLEWARE=[
        "django.middleware.security.SecurityMiddleware",
        "django.contrib.sessions.middleware.SessionMiddleware",
        "django.middleware.common.CommonMiddleware",
        "django.middleware.csrf.CsrfViewMiddleware",
        "django.contrib.auth.middleware.AuthenticationMiddleware",
        "django.contrib.messages.middleware.MessageMiddleware",
        "django.middleware.clickjacking.XFrameOptionsMiddleware",
    ],
    DATABASES={
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": tempfile.gettempdir() + "/bench-django.sqlite3",
        }
    },
    USE_TZ=True,
)

from django.core.wsgi import get_wsgi_application  # noqa: E402
from hello_django_views import hello  # noqa: E402

urlpatterns = [path("", hello)]
application = get_wsgi_application()
