"""Ingestion: files in, chunks with embeddings in the vector store out.

`loaders` read PDF (pypdf, per page), Markdown and text with front matter into `Document`s;
`chunking` splits them on structure into `Chunk`s with exact offsets and deterministic ids;
`embedding` picks the backend that runs the model (`onnx_embedder`, the default: onnxruntime on
the export `onnx_export` makes once; or sentence-transformers); `store` is the only chromadb
import; `pipeline` ties them together idempotently (unchanged files cost nothing) and
crash-safely: `manifest` marks a document complete only after its chunks are in, `parsing` reads
PDFs in a worker process with time and memory limits, `integrity` checks the store against the
manifest. Nothing here imports `rag`.
"""
