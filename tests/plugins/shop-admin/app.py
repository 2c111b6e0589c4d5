async def app(scope, receive, send):
    assert scope["type"] == "http"
    body = f'{{"plugin": "shop-admin", "root_path": "{scope["root_path"]}"}}'.encode()
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"application/json")]})
    await send({"type": "http.response.body", "body": body})
