"""Small file-level pieces: YAML line keeping, voicemail message lookup, prompt copies, DOT pictures."""

from __future__ import annotations

import os
from pathlib import Path

from callcenter.asterisk.agi.channel import find_message
from callcenter.ivr import graph, prompts, yamllines
from callcenter.ivr.flows import CheckContext, load_files

REPO = Path(__file__).resolve().parents[2]
MSG = """;
; Message Information file
;
[message]
origmailbox=12346
context=cc-route
callerchan={chan}
callerid="" <13800000000>
origdate=Wed Nov 25 10:00:00 AM UTC 2026
duration=7
msg_id=1764064800-00000000
"""


def test_lines_of_keys_and_items_and_duplicates() -> None:
    doc = yamllines.load("a:\n  b: 1\n  c:\n    - x\n    - y\n  b: 2\n1: one\n")
    assert doc.data == {"a": {"b": 2, "c": ["x", "y"]}, "1": "one"}
    assert doc.lines[("a", "c")] == 3 and doc.lines[("a", "c", 1)] == 5
    assert doc.line_of(("a", "c", 1, "missing")) == 5
    assert doc.duplicates == [(("a", "b"), 6)]


def test_find_message_by_path_or_by_channel(tmp_path: Path) -> None:
    inbox = tmp_path / "INBOX"
    inbox.mkdir()
    for n, chan in ((0, "PJSIP/carrier-00000001"), (1, "PJSIP/carrier-00000002")):
        (inbox / f"msg000{n}.txt").write_text(MSG.format(chan=chan))
        (inbox / f"msg000{n}.wav").write_bytes(b"RIFF" + b"\0" * 100)
    by_path = find_message(inbox, str(inbox / "msg0000"), "")
    assert by_path is not None and by_path.path == str(inbox / "msg0000.wav") and by_path.duration_s == 7
    by_channel = find_message(inbox, None, "PJSIP/carrier-00000002")
    assert by_channel is not None and by_channel.path == str(inbox / "msg0001.wav")
    assert find_message(inbox, None, "PJSIP/carrier-00000009") is None


def test_prompt_sync_copies_only_changes_atomically(tmp_path: Path) -> None:
    src, dst = tmp_path / "src", tmp_path / "dst"
    (src / "zh").mkdir(parents=True)
    (src / "zh" / "a.gsm").write_bytes(b"1" * 33)
    (src / "catalog.yaml").write_text("prompts: {}\n")
    assert prompts.sync(src, dst) == 1
    assert (dst / "zh" / "a.gsm").read_bytes() == b"1" * 33 and not (dst / "catalog.yaml").exists()
    assert prompts.sync(src, dst) == 0
    (src / "zh" / "a.gsm").write_bytes(b"2" * 66)
    os.utime(src / "zh" / "a.gsm", ns=(1, 1))
    assert prompts.sync(src, dst) == 1 and (dst / "zh" / "a.gsm").read_bytes() == b"2" * 66


def test_catalog_prompts_exist_after_install() -> None:
    for name in prompts.load_catalog(REPO / "prompts"):
        assert (REPO / "prompts" / f"{name}.gsm").stat().st_size > 1000, name


def test_dot_has_every_node_and_edge() -> None:
    fs, problems = load_files([REPO / "ivr_flows" / "12319.yaml", REPO / "ivr_flows" / "12345.yaml",
                               REPO / "ivr_flows" / "calendars.yaml"], CheckContext())
    assert fs is not None, problems
    dot = graph.to_dot(fs.flows["12319"])
    for name in fs.flows["12319"].nodes:
        assert f'"{name}" [shape=' in dot
    assert '"hours" -> "closed" [label="closed"]' in dot and '"menu" -> "main" [label="2"]' in dot
    assert graph.render(dot, "svg").startswith(b"<?xml")
