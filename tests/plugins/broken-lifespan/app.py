from contextlib import asynccontextmanager

from fastapi import FastAPI


@asynccontextmanager
async def lifespan(app):
    raise RuntimeError("cannot connect to the cache")
    yield


app = FastAPI(lifespan=lifespan)
