"""A broken extension: it raises while being imported."""

raise RuntimeError("ext_import_error cannot start: no licence key")
