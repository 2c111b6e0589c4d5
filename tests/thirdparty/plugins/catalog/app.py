"""SQLAdmin (https://github.com/aminalaee/sqladmin) on a plain Starlette app, set up as its
documentation shows: two SQLAlchemy models, their ``ModelView``s and an authentication
backend. SQLAdmin mounts itself with ``Mount("/admin")``, serves its CSS/JS through
``StaticFiles`` at ``/admin/statics`` and builds every link, form action and redirect with
``request.url_for`` -- the things a prefix must not break.

The database is SQLite in memory (one shared connection), so nothing is written anywhere.
"""

from __future__ import annotations

from typing import Any

from sqladmin import Admin, ModelView
from sqladmin.authentication import AuthenticationBackend
from sqlalchemy import ForeignKey, String, create_engine
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.pool import StaticPool
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

USERNAME, PASSWORD = "admin", "s3cret"

engine = create_engine("sqlite://", poolclass=StaticPool, connect_args={"check_same_thread": False})


class Base(DeclarativeBase):
    pass


class Author(Base):
    __tablename__ = "authors"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64))
    books: Mapped[list[Book]] = relationship(back_populates="author")

    def __str__(self) -> str:
        return self.name


class Book(Base):
    __tablename__ = "books"

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(128))
    author_id: Mapped[int | None] = mapped_column(ForeignKey("authors.id"))
    author: Mapped[Author | None] = relationship(back_populates="books")

    def __str__(self) -> str:
        return self.title


class AuthorAdmin(ModelView, model=Author):
    column_list = (Author.id, Author.name)
    column_searchable_list = (Author.name,)
    column_sortable_list = (Author.name,)


class BookAdmin(ModelView, model=Book):
    column_list = (Book.id, Book.title, Book.author)
    column_searchable_list = (Book.title,)


class Backend(AuthenticationBackend):
    async def login(self, request: Request) -> bool:
        form = await request.form()
        if (form.get("username"), form.get("password")) != (USERNAME, PASSWORD):
            return False
        request.session.update({"user": USERNAME})
        return True

    async def logout(self, request: Request) -> bool:
        request.session.clear()
        return True

    async def authenticate(self, request: Request) -> bool:
        return request.session.get("user") == USERNAME


async def index(request: Request) -> JSONResponse:
    """The host application's own page: where the admin is, as the app computes it."""
    urls: dict[str, Any] = {
        "admin": str(request.url_for("admin:index")),
        "css": str(request.url_for("admin:statics", path="css/main.css")),
        "base_url": str(request.base_url),
    }
    return JSONResponse(urls)


Base.metadata.create_all(engine)
app = Starlette(routes=[Route("/", index)])
admin = Admin(app, engine, authentication_backend=Backend(secret_key="catalog-tests"))
admin.add_view(AuthorAdmin)
admin.add_view(BookAdmin)
