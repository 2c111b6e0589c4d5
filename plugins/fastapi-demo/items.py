from fastapi import APIRouter, HTTPException, Request

router = APIRouter(prefix="/items")

ITEMS = {1: "apple", 2: "pear"}


@router.get("/{item_id}")
async def get_item(item_id: int, request: Request) -> dict[str, object]:
    if item_id not in ITEMS:
        raise HTTPException(404, "no such item")
    return {"id": item_id, "name": ITEMS[item_id], "greeting": request.state.greeting}
