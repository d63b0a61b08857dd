"""``docmodel prepare`` end to end on generated bad input: it answers 0 with a corpus or 2 with
one line, and never raises.

Sources are generated tables, text, ``.feat`` and ``.mtx`` files or arbitrary bytes, with random
option values, valid and invalid; archives hold hostile members (``..``, absolute paths, links,
deep nesting). Arbitrary bytes per file type, damaged archives and hostile archive members are
covered at the loader level by ``tests/corpora/test_loaders_fuzz.py`` and
``tests/corpora/test_archives.py``; here they go through the command. The checks and strategies
are in ``tests/corpora/bad_inputs.py``; every example runs under a hard time limit, so a hang
fails the test instead of stalling it.
"""

from __future__ import annotations

import io
import os
import tarfile
import tempfile
import zipfile
from pathlib import Path

from hypothesis import event, given
from hypothesis import strategies as st

from tests.corpora.bad_inputs import (
    CELLS,
    N_WORDS,
    PROPERTY,
    SENTENCES,
    check_prepare,
    feat_lines,
    jsonl_lines,
    malformed_tables,
    mtx_files,
)

OPTION_VALUES = {
    "--min-df": ["1", "2", "0", "x"],
    "--max-df": ["1", "0.5", "0", "2"],
    "--max-words": ["1", "3", "0"],
    "--test-fraction": ["0", "0.5", "1", "-1"],
    "--min-doc-tokens": ["1", "3", "0"],
    "--stopwords": ["none", "english", "klingon"],
    "--token-pattern": [r"\S+", "[a-z]+", "(", "x*"],
    "--encoding": ["auto", "latin-1", "utf-8", "nope"],
    "--text-column": ["text", "missing"],
    "--seed": ["0", "-1"],
}
SWITCHES = ["--stem", "--bigrams", "--strip-quotes", "--strip-urls", "--strip-numbers"]
LENIENT = ["--min-df", "1", "--max-df", "1"]  # later flags win: generated values still apply
OPTIONS = st.tuples(st.sampled_from([[], LENIENT]), st.lists(
    st.sampled_from(sorted(OPTION_VALUES)).flatmap(
        lambda flag: st.sampled_from(OPTION_VALUES[flag]).map(lambda v: (flag, v))
    ),
    max_size=4,
    unique_by=lambda pair: pair[0],
).map(lambda pairs: [x for pair in pairs for x in pair]) | st.sampled_from(SWITCHES).map(
    lambda s: [s]
)).map(lambda parts: parts[0] + parts[1])


@st.composite
def sources(draw) -> tuple[str, bytes]:
    """A file name and bytes: a generated table or text, or arbitrary bytes."""
    kind = draw(st.sampled_from(["csv", "tsv", "jsonl", "txt", "feat", "mtx", "bytes"]))
    if kind in ("csv", "tsv"):
        return f"s.{kind}", draw(malformed_tables("," if kind == "csv" else "\t")).encode()
    if kind == "jsonl":
        return "s.jsonl", draw(jsonl_lines())[0].encode()
    if kind == "txt":
        lines = draw(st.lists(SENTENCES | CELLS, max_size=12))
        return "s.txt", "\n".join(lines).encode(draw(st.sampled_from(["utf-8", "utf-16"])))
    if kind == "feat":
        return "s.feat", draw(feat_lines())[0].encode()
    if kind == "mtx":
        return "s.mtx", draw(mtx_files()).encode()
    suffix = draw(st.sampled_from([".txt", ".csv", ".jsonl", ".feat", ".mtx", ".zip", ".parquet"]))
    return f"s{suffix}", draw(st.binary(max_size=300))


@PROPERTY
@given(source=sources(), options=OPTIONS, vocab=st.none() | st.binary(max_size=60))
def test_prepare_answers_0_with_a_corpus_or_2_with_one_line(source, options, vocab):
    name, data = source
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder, name)
        path.write_bytes(data)
        words = "".join(f"w{i}\n" for i in range(1, N_WORDS + 1)).encode()
        Path(folder, "vocab.new").write_bytes(words if vocab is None else vocab)
        data = check_prepare(path, *options, output=Path(folder, "out"))
    event("prepared" if data is not None else "refused")


@st.composite
def hostile_archives(draw) -> tuple[str, list[tuple[str, str]]]:
    """Archive members: (name, kind) with kind file, dir, symlink or hardlink; names that are
    fine, traverse with '..', are absolute, or nest very deep."""
    kinds = st.sampled_from(["file", "file", "file", "dir", "symlink", "hardlink"])
    names = st.sampled_from(
        ["a/1.txt", "b/2.txt", "3.txt", "../MARK", "a/../../MARK", "/tmp/MARK", "C:\\MARK",
         "..\\MARK", "./a/4.txt", "a//5.txt", "/".join(["d"] * 40) + "/MARK"]
    )
    return draw(st.sampled_from(["zip", "tar"])), draw(
        st.lists(st.tuples(names, kinds), min_size=1, max_size=5, unique_by=lambda m: m[0])
    )


def write_archive(path: Path, kind: str, members, marker: str) -> None:
    data = f"apple banana {marker}".encode()
    if kind == "zip":
        with zipfile.ZipFile(path, "w") as archive:
            for name, member_kind in members:
                info = zipfile.ZipInfo(name.replace("MARK", marker))
                if member_kind == "symlink":
                    info.external_attr = 0o120777 << 16
                elif member_kind == "dir":
                    info.filename += "/"
                archive.writestr(info, b"../../" + marker.encode() if member_kind == "symlink" else data)
        return
    with tarfile.open(path, "w:gz") as archive:
        for name, member_kind in members:
            info = tarfile.TarInfo(name.replace("MARK", marker))
            info.type = {"file": tarfile.REGTYPE, "dir": tarfile.DIRTYPE,
                         "symlink": tarfile.SYMTYPE, "hardlink": tarfile.LNKTYPE}[member_kind]
            if member_kind in ("symlink", "hardlink"):
                info.linkname = f"../../{marker}"
            info.size = len(data) if member_kind == "file" else 0
            archive.addfile(info, io.BytesIO(data) if member_kind == "file" else None)


@PROPERTY
@given(archive=hostile_archives())
def test_hostile_archives_write_nothing_outside_the_output(archive):
    kind, members = archive
    marker = f"mark-{os.getpid()}-{abs(hash(tuple(members)))}"
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder, "inner", "deeper")
        root.mkdir(parents=True)
        path = root / f"a.{'zip' if kind == 'zip' else 'tar.gz'}"
        write_archive(path, kind, members, marker)
        data = check_prepare(path, "--min-df", "1", "--max-df", "1", "--test-fraction", "0",
                             output=root / "out")
        found = [p for p in Path(folder).rglob("*") if marker in p.name]
        written = {p.relative_to(folder).as_posix() for p in Path(folder).rglob("*")}
        outside = {p for p in written if not p.startswith("inner/deeper/out")}
        assert found == [] and outside == {"inner", "inner/deeper", f"inner/deeper/{path.name}"}
    for place in (Path("/tmp", marker), Path(tempfile.gettempdir(), marker), Path.cwd() / marker):
        assert not place.exists()
    links = ("symlink", "hardlink") if kind == "tar" else ("symlink",)
    if any("MARK" in name or member_kind in links for name, member_kind in members):
        assert data is None, "a hostile member was accepted"
