"""A FastAPI plugin for the merged OpenAPI document: two models both named ``Item`` (from two
modules, so FastAPI names their schemas after the modules) and a bearer security scheme."""

from fastapi import Depends, FastAPI
from fastapi.security import HTTPBearer

from . import catalog, orders

app = FastAPI(title="store")
bearer = HTTPBearer()


@app.get("/items/{item_id}", response_model=catalog.Item)
async def get_item(item_id: int) -> catalog.Item:
    return catalog.Item(id=item_id, name="pen")


@app.post("/orders", response_model=orders.Item)
async def order(item: orders.Item, token=Depends(bearer)) -> orders.Item:
    return item
