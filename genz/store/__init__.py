"""Storage: schemas of the pipeline's output frames, atomic writes, the DuckDB warehouse and its SQL views."""
