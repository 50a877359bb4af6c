"""Hand-built PDFs for the robustness tests: one page of real text, or a hostile content stream.

Written byte by byte (objects, xref table, trailer) so each file is exactly what its name says:
a stream with a filter pypdf does not implement, or a FlateDecode stream that inflates to
hundreds of megabytes of zeros (a decompression bomb of a few hundred kilobytes).
"""

from __future__ import annotations

import zlib

MB = 1 << 20


def pdf(stream: bytes, *, filters: str | None = None) -> bytes:
    """A one-page PDF whose page content is `stream` (already encoded with `filters`)."""
    filter_entry = f"/Filter {filters} " if filters else ""
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
        b"/Resources << /Font << /F1 5 0 R >> >> /Contents 4 0 R >>",
        f"<< {filter_entry}/Length {len(stream)} >>\nstream\n".encode() + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.7\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n".encode() + body + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    out += b"".join(f"{offset:010d} 00000 n \n".encode() for offset in offsets)
    out += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    return bytes(out)


def text_operators(lines: list[str]) -> bytes:
    """A content stream that shows `lines` in Helvetica, one under the other."""
    ops = [b"BT /F1 11 Tf 72 720 Td 14 TL"]
    for line in lines:
        escaped = line.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
        ops.append(f"({escaped}) Tj T*".encode("latin-1"))
    ops.append(b"ET")
    return b"\n".join(ops)


def text_pdf(lines: list[str]) -> bytes:
    """A good PDF: the lines as a FlateDecode text layer."""
    return pdf(zlib.compress(text_operators(lines)), filters="/FlateDecode")


def unsupported_filter_pdf(lines: list[str]) -> bytes:
    """The same text behind a filter no PDF reader implements: pypdf raises NotImplementedError."""
    return pdf(zlib.compress(text_operators(lines)), filters="/MeddraftTestDecode")


def bomb_pdf(megabytes: int) -> bytes:
    """A content stream of `megabytes` MB of zero bytes, deflated (about 1 KB per MB)."""
    deflate = zlib.compressobj(9)
    zeros = bytes(MB)
    parts = [deflate.compress(zeros) for _ in range(megabytes)]
    parts.append(deflate.flush())
    return pdf(b"".join(parts), filters="/FlateDecode")
