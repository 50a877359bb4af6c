"""Evaluation: gold cases and benchmark files in, scores, reports and a pass/fail gate out.

`gold` (the case format), `metrics` (pure functions), `harness` (runs cases through `rag`'s public
API and gates them), `report` (Markdown and HTML), `retrieval` and `beir` (BEIR benchmarks),
`support` (the citation-support checker against SciFact), `cli` (`meddraft eval ...`, plugged in
through the `meddraft.commands` entry point). Only the public API of `rag` is imported.
"""
