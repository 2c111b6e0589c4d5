from .models import WHO


def who() -> str:
    return WHO
