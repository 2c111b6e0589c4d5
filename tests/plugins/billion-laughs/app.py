from fastapi import FastAPI

app = FastAPI()


@app.get("/")
async def index() -> dict[str, str]:
    return {"plugin": "shop"}


@app.get("/{rest:path}")
async def anything(rest: str) -> dict[str, str]:
    return {"plugin": "shop", "rest": rest}
