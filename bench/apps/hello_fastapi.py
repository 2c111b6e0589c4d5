"""The hello app in FastAPI: served alone by uvicorn, and copied as a gateway plugin's app.py."""

from fastapi import FastAPI

app = FastAPI()


@app.get("/")
async def hello() -> dict[str, str]:
    return {"message": "hello"}
