from fastapi import FastAPI

application = FastAPI()  # not named app
