import views  # should be: from . import views

app = views.app
