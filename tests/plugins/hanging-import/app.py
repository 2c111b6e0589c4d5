"""A plugin whose import never ends (it sleeps for ten minutes), in the loader's thread."""

import os
import time
from pathlib import Path

(Path(os.environ.get("CONTAIN_DIR", ".")) / "hanging-import-started").write_text("1")
time.sleep(600)

app = None
