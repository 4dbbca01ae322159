"""Exchange for the translation memory: import published translations and TMX, export TMX / JSONL / Parquet.

- `pairs`: one English value and its translation → the memory row a run would have written (same key, placeholders
  put back where the spans are), or the reasons it cannot be.
- `importer`: a translated LLaVA file aligned to its source, turn by turn, QC'd, merged in committed batches.
- `tmx`: TMX 1.4 reading and writing. `export`: TMX / JSONL / Parquet from the memory, with the real text restored.
"""
