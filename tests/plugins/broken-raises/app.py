raise RuntimeError("database unreachable")
