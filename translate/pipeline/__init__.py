"""prepare / translate / assemble, streamed over windows of records, the engine translating while the rest goes on.

- `options`: `RunOptions` (what a caller sets) and `Stats` (what a run counts);
- `segments`: the prepare stage (`Segmenter`: a record → protected fields with memory keys; `collect_segments`);
- `translator`: the translate stage (`SegmentTranslator`: fill the memory, one committed batch at a time);
- `engine`: the engine thread, the only one that calls the backend;
- `assembler`: the assemble stage for one record (restore, check, record checks, quality estimation);
- `files`: output names, the capped rejected entry, windows, --limit / --sample;
- `runner`: `Pipeline.run_file`, which ties them together over a file;
- `planning`: `plan`, the counts behind `estimate` and the cluster plan.
"""

from translate.pipeline.assembler import MISSING_TRANSLATION, Assembler, attach_findings, score_window
from translate.pipeline.engine import EngineThread
from translate.pipeline.files import REJECTED_RECORD_CAP, capped_record, output_paths, select_records
from translate.pipeline.options import ON_REJECT, RunOptions, SegmentCounts, Stats
from translate.pipeline.planning import PlanCounts, plan
from translate.pipeline.runner import FileFlow, Pipeline, ProgressCallback
from translate.pipeline.segments import PreparedField, PreparedRecord, Segmenter, collect_segments
from translate.pipeline.translator import SegmentTranslator, translate_batch, translate_record_batch

__all__ = [
    "MISSING_TRANSLATION", "ON_REJECT", "REJECTED_RECORD_CAP", "Assembler", "EngineThread", "FileFlow", "Pipeline",
    "PlanCounts", "PreparedField", "PreparedRecord", "ProgressCallback", "RunOptions", "SegmentCounts",
    "SegmentTranslator", "Segmenter", "Stats", "attach_findings", "capped_record", "collect_segments",
    "output_paths", "plan", "score_window", "select_records", "translate_batch", "translate_record_batch",
]
