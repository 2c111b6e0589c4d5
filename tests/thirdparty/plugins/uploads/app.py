"""A FastAPI app made of two parts, labelled as such in docs/COMPATIBILITY.md:

- a real third-party app: SQLAdmin (https://github.com/aminalaee/sqladmin) mounted on FastAPI
  as its README shows, listing the uploads (links and redirects by ``request.url_for``, its
  assets by ``StaticFiles``, CSV/JSON export by ``StreamingResponse``);
- FastAPI's documented features, written the way its tutorial pages "Request Files",
  "Background Tasks", "Custom Response - StreamingResponse" and "Behind a Proxy" use them:
  no packaged FastAPI application on PyPI uses ``UploadFile``, ``BackgroundTasks``,
  ``StreamingResponse`` and ``url_for`` together in a way a test can drive.

Uploads are kept in a SQLite file in a temporary folder, removed when the app shuts down.
Not in memory: a ``sqlite://`` database is one connection, which the download (on the event
loop), the info view and the background task (in threads) would share at the same time,
and a connection shared across threads can answer a query with nothing.
"""

from __future__ import annotations

import asyncio
import hashlib
import shutil
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import BackgroundTasks, FastAPI, HTTPException, Request, UploadFile
from fastapi.responses import RedirectResponse, StreamingResponse
from sqladmin import Admin, ModelView
from sqlalchemy import LargeBinary, String, create_engine, select
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

FOLDER = Path(tempfile.mkdtemp(prefix="gateway-uploads-plugin-"))
engine = create_engine(f"sqlite:///{FOLDER / 'uploads.sqlite3'}")


class Base(DeclarativeBase):
    pass


class Upload(Base):
    __tablename__ = "uploads"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(128), unique=True)
    content_type: Mapped[str] = mapped_column(String(128))
    size: Mapped[int]
    sha256: Mapped[str | None] = mapped_column(String(64))
    data: Mapped[bytes] = mapped_column(LargeBinary)


class UploadAdmin(ModelView, model=Upload):
    column_list = (Upload.id, Upload.name, Upload.size, Upload.sha256)
    column_searchable_list = (Upload.name,)


Base.metadata.create_all(engine)


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    yield
    engine.dispose()
    shutil.rmtree(FOLDER, ignore_errors=True)


app = FastAPI(title="files", lifespan=lifespan)
admin = Admin(app, engine)
admin.add_view(UploadAdmin)


def record_digest(name: str) -> None:
    """The background task: runs after the response to the upload has been sent."""
    with Session(engine) as session:
        upload = session.scalars(select(Upload).where(Upload.name == name)).one()
        upload.sha256 = hashlib.sha256(upload.data).hexdigest()
        session.commit()


def find(session: Session, name: str) -> Upload:
    upload = session.scalars(select(Upload).where(Upload.name == name)).one_or_none()
    if upload is None:
        raise HTTPException(404, f"no upload named {name!r}")
    return upload


@app.get("/")
async def index(request: Request) -> dict[str, str]:
    return {
        "base_url": str(request.base_url),
        "self": str(request.url_for("index")),
        "admin": str(request.url_for("admin:index")),
        "admin_css": str(request.url_for("admin:statics", path="css/main.css")),
        "docs": str(request.url_for("swagger_ui_html")),
    }


@app.get("/home")
async def home(request: Request) -> RedirectResponse:
    return RedirectResponse(request.url_for("index"))


@app.post("/files", status_code=201)
async def upload_files(
    files: list[UploadFile], background_tasks: BackgroundTasks, request: Request
) -> list[dict[str, Any]]:
    created = []
    with Session(engine) as session:
        for file in files:
            data = await file.read()
            name = file.filename or "unnamed"
            session.add(
                Upload(
                    name=name,
                    content_type=file.content_type or "application/octet-stream",
                    size=len(data),
                    data=data,
                )
            )
            background_tasks.add_task(record_digest, name)
            created.append(
                {
                    "name": name,
                    "size": len(data),
                    "url": str(request.url_for("download", name=name)),
                }
            )
        session.commit()
    return created


@app.get("/files/{name}/info")
def info(name: str) -> dict[str, Any]:
    with Session(engine) as session:
        upload = find(session, name)
        return {"name": upload.name, "size": upload.size, "sha256": upload.sha256}


@app.get("/files/{name}", name="download")
async def download(name: str, chunk: int = 65536, pause: float = 0.0) -> StreamingResponse:
    """Streams the upload back ``chunk`` bytes at a time, ``pause`` seconds apart."""
    with Session(engine) as session:
        upload = find(session, name)
        data, content_type = upload.data, upload.content_type

    async def chunks() -> AsyncIterator[bytes]:
        for start in range(0, len(data), chunk):
            if start and pause:
                await asyncio.sleep(pause)
            yield data[start : start + chunk]

    return StreamingResponse(chunks(), media_type=content_type)
