"""Everything a person or a CI job reads about a run, one module a job; nothing here runs anything.

- document: the result document (the contract, result.schema.json), which every format reads;
- console: the one console (made on first use) and the short messages of the commands;
- result_console: a run's result drawn on the console; progress: live progress (runs, batches, grading);
- junit, markdown, html: the file formats; files: the report directory and writing into it;
- capture, sequence_chart, plots: what a captured run adds, the sequence chart, the plots.
"""
