"""Scenario tables that cannot be read as written: one line with the file, the line (and byte
offset for encodings), never "missing column model"; nothing is written. Tables that are fine in
another encoding or format (UTF-16 with a byte-order mark, Parquet, JSON, JSON Lines, standard
input) give the same predictions as the UTF-8 CSV."""

from __future__ import annotations

import json

import polars as pl
import pytest

from tests.reliability.conftest import HEADER, ROW, H, M, assert_error, run_subprocess, snapshot

ROW2 = f"{M},{H},256,32"
TEXT = f"{HEADER}\n{ROW}\n{ROW2}\n"

# (file name, content (bytes or text), exact message after "genz: error: ")
CASES = [
    ("ragged_more.csv", f"{HEADER}\n{ROW}\n{ROW},9\n", "ragged_more.csv: line 3: 5 fields, the header has 4"),
    ("ragged_less.csv", f"{HEADER}\n{ROW}\n{M},{H},128\n", "ragged_less.csv: line 3: 3 fields, the header has 4"),
    ("open_quote.csv", f'{HEADER}\n"{ROW}\n{ROW2}\n',
     "open_quote.csv: line 2: malformed quoting (unexpected end of data); close every quoted field and double "
     "quotes inside it"),
    ("after_quote.csv", f'{HEADER}\n"{M}"x,{H},1,1\n',
     "after_quote.csv: line 2: malformed quoting (',' expected after '\"'); close every quoted field and double "
     "quotes inside it"),
    ("stray_quote.csv", f'{HEADER}\nmeta-"llama,{H},1,1\n',
     "stray_quote.csv: line 2: a quote inside an unquoted field; quote the whole field and double the quotes "
     "inside it"),
    ("latin1.csv", f"{HEADER}\n{ROW}\nm\u00e9ta,{H},1,1\n".encode("latin-1"),
     "latin1.csv: line 3, byte offset 88: byte 0xe9 is not UTF-8 (Latin-1 or Windows-1252 text?); save the file "
     "as UTF-8"),
    ("cp1252_header.csv", "mod\u00e8l,hardware,input_tokens,output_tokens\n".encode("cp1252"),
     "cp1252_header.csv: line 1, byte offset 3: byte 0xe8 is not UTF-8 (Latin-1 or Windows-1252 text?); save the "
     "file as UTF-8"),
    ("utf16_no_bom.csv", TEXT.encode("utf-16-le"),
     "utf16_no_bom.csv: line 1, byte offset 1: a NUL byte; not a UTF-8 text file (UTF-16 without a byte-order "
     "mark?); save it as UTF-8"),
    ("bad_utf16.csv", b"\xff\xfe" + "model".encode("utf-16-le") + b"\x00\xd8",
     "bad_utf16.csv: byte offset 12: not valid UTF-16 although the file starts with its byte-order mark; save it "
     "as UTF-8"),
    ("empty.csv", "", "empty.csv: empty file; expected a header with at least model, hardware, input_tokens, "
     "output_tokens"),
    ("blank.csv", "\n  \n", "blank.csv: empty file; expected a header with at least model, hardware, input_tokens, "
     "output_tokens"),
    ("dup_header.csv", f"{HEADER},model\n{ROW},x\n", "dup_header.csv: column 'model' appears more than once in the "
     "header"),
    ("no_tokens.csv", f"model,hardware\n{M},{H}\n",
     "scenario table: missing required column(s) input_tokens, output_tokens; required: model, hardware, "
     "input_tokens, output_tokens"),
    ("bad.parquet", b"PAR1 not really",
     "bad.parquet: not a readable Parquet file (parquet: File out of specification: The file must end with PAR1 "
     "or PARE)"),
    ("bad.json", '[{"model": "x",\n  "hardware": }]', "bad.json: line 2: malformed JSON (Expecting value)"),
    ("numbers.json", "[1, 2]", "numbers.json: a .json table must be an array of records ([{\"model\": ..., "
     "\"hardware\": ...}, ...])"),
    ("nested.json", json.dumps([{"model": {"id": M}, "hardware": H, "input_tokens": 1, "output_tokens": 1}]),
     "nested.json: column 'model' holds lists or records; give one value per cell"),
    ("bad.jsonl", f'{{"model": "{M}"}}\n{{oops\n',
     "bad.jsonl: line 2: malformed JSON (Expecting property name enclosed in double quotes)"),
    ("list_line.jsonl", '{"model": "a"}\n[1]\n',
     "list_line.jsonl: line 2: each line of a JSON Lines table must be one record ({...})"),
]


@pytest.fixture(scope="module")
def csv_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tables")
    for name, content, _ in CASES:
        data = content if isinstance(content, bytes) else content.encode("utf-8")
        (folder / name).write_bytes(data)
    (folder / "out.csv").write_text("an earlier output, kept\n")
    return folder


@pytest.mark.parametrize("name, content, message", CASES, ids=[c[0] for c in CASES])
def test_unreadable_table_is_one_line_and_writes_nothing(genz, csv_dir, monkeypatch, name, content, message):
    monkeypatch.chdir(csv_dir)
    before = snapshot(csv_dir)
    assert_error(genz("predict", name, "-o", "out.csv"), message)
    assert snapshot(csv_dir) == before  # inputs and the earlier out.csv untouched, no temporary left


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """The predictions of the UTF-8 CSV, and a folder of the same table in other encodings and formats."""
    from genz.cli import main

    folder = tmp_path_factory.mktemp("formats")
    (folder / "utf8.csv").write_text(TEXT)
    assert main(["predict", str(folder / "utf8.csv"), "-o", str(folder / "ref.csv"), "-q"]) == 0
    (folder / "utf16.csv").write_bytes(TEXT.encode("utf-16"))  # with its byte-order mark
    (folder / "utf16be.csv").write_bytes(b"\xfe\xff" + TEXT.encode("utf-16-be"))
    (folder / "utf32.csv").write_bytes(TEXT.encode("utf-32"))
    (folder / "utf8bom.csv").write_bytes(TEXT.encode("utf-8-sig"))
    (folder / "crlf.csv").write_bytes(TEXT.replace("\n", "\r\n").encode())
    (folder / "quoted.csv").write_text(f'{HEADER}\n"{M}","{H}",128,"64"\n{ROW2}\n')
    df = pl.read_csv(folder / "utf8.csv")
    df.write_parquet(folder / "t.parquet")
    df.write_json(folder / "t.json")
    df.write_ndjson(folder / "t.jsonl")
    df.write_ndjson(folder / "t.ndjson")
    return folder, pl.read_csv(folder / "ref.csv").get_column("ttft_ms").to_list()


@pytest.mark.parametrize("name", ["utf16.csv", "utf16be.csv", "utf32.csv", "utf8bom.csv", "crlf.csv", "quoted.csv",
                                  "t.parquet", "t.json", "t.jsonl", "t.ndjson"])
def test_other_encodings_and_formats_read_the_same(genz, reference, monkeypatch, name):
    folder, ttft = reference
    monkeypatch.chdir(folder)
    res = genz("predict", name, "-o", f"out_{name}.csv")
    assert res.rc == 0, res.err
    out = pl.read_csv(folder / f"out_{name}.csv")
    assert out.get_column("status").to_list() == ["ok", "ok"]
    assert out.get_column("ttft_ms").to_list() == ttft


def test_standard_input(reference):
    folder, ttft = reference
    res = run_subprocess("predict", "-", "-o", "stdin.csv", cwd=folder, stdin=TEXT.encode())
    assert res.rc == 0, res.err
    assert pl.read_csv(folder / "stdin.csv").get_column("ttft_ms").to_list() == ttft


def test_header_only_table_writes_an_empty_result(genz, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "h.csv").write_text(HEADER + "\n")
    res = genz("predict", "h.csv", "-o", "o.csv")
    assert res.rc == 0 and res.line.startswith("genz: 0 rows, 0 ok, 0 with a status")
    assert pl.read_csv(tmp_path / "o.csv").height == 0
