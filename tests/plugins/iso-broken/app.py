from fastapi import FastAPI

import not_a_module_anywhere  # noqa: F401

app = FastAPI()
