"""Prompt files: placeholder Mandarin prompts made with espeak-ng + sox, and copies for Asterisk.

``prompts/catalog.yaml`` maps a sound name to its text. ``python -m callcenter.ivr.prompts
generate`` (run by ``scripts/make-prompts``, itself run by ``scripts/bootstrap``) writes each
missing ``<name>.gsm``; real recordings dropped in the same place replace them. Flows may name
any other sound file under the prompts directory.
"""

from __future__ import annotations

import argparse
import hashlib
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from callcenter import yamlfiles

CATALOG = "catalog.yaml"
STAMP_SUFFIX = ".txt-sha"


def load_catalog(prompts_dir: Path) -> dict[str, dict[str, str]]:
    """name → {"text": ..., "voice": ...} from ``catalog.yaml``."""
    data = yamlfiles.load_file(prompts_dir / CATALOG) or {}
    out = {}
    for name, entry in (data.get("prompts") or {}).items():
        entry = {"text": entry} if isinstance(entry, str) else dict(entry)
        entry.setdefault("voice", data.get("voice", "cmn"))
        out[str(name)] = entry
    return out


def generate(prompts_dir: Path, force: bool = False) -> list[Path]:
    """Synthesize every catalog prompt whose text changed or whose file is missing; return those made."""
    espeak, sox = shutil.which("espeak-ng"), shutil.which("sox")
    if espeak is None or sox is None:
        raise RuntimeError("espeak-ng and sox are needed to make the placeholder prompts (scripts/bootstrap)")
    made = []
    for name, entry in load_catalog(prompts_dir).items():
        target = prompts_dir / f"{name}.gsm"
        stamp = prompts_dir / f"{name}{STAMP_SUFFIX}"
        digest = hashlib.sha256(f"{entry['voice']}\0{entry['text']}".encode()).hexdigest()
        if not force and target.exists() and stamp.exists() and stamp.read_text() == digest:
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory() as tmp:
            wav = Path(tmp) / "p.wav"
            subprocess.run([espeak, "-v", entry["voice"], "-s", "200", "-w", str(wav), entry["text"]], check=True,
                           capture_output=True)
            subprocess.run([sox, str(wav), "-r", "8000", "-c", "1", "-t", "gsm", str(target)], check=True,
                           capture_output=True)
        stamp.write_text(digest)
        made.append(target)
    return made


def sync(src: Path, dst: Path) -> int:
    """Copy sound files from ``src`` to ``dst`` (Asterisk's copy) when new or changed; return how many."""
    if src.resolve() == dst.resolve() or not src.is_dir():
        return 0
    copied = 0
    for f in src.rglob("*"):
        if not f.is_file() or f.suffix in (".yaml", STAMP_SUFFIX):
            continue
        target = dst / f.relative_to(src)
        st = f.stat()
        if target.exists():
            tst = target.stat()
            if tst.st_size == st.st_size and tst.st_mtime_ns == st.st_mtime_ns:
                continue
        if not target.parent.is_dir():
            target.parent.mkdir(parents=True, exist_ok=True)
            # prompts are public (Asterisk may run as another user), whatever our umask (077)
            for d in [target.parent, *target.parent.relative_to(dst).parents]:
                (dst / d if not d.is_absolute() else d).chmod(0o755)
        tmp = target.with_name(target.name + ".tmp")
        shutil.copy2(f, tmp)
        tmp.chmod(0o644)
        tmp.replace(target)  # atomic: Asterisk never plays half a file
        copied += 1
    return copied


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m callcenter.ivr.prompts")
    sub = parser.add_subparsers(dest="command", required=True)
    gen = sub.add_parser("generate", help="make missing placeholder prompts from catalog.yaml")
    gen.add_argument("prompts_dir", nargs="?", default="prompts")
    gen.add_argument("--force", action="store_true")
    args = parser.parse_args(argv)
    made = generate(Path(args.prompts_dir), force=args.force)
    print(f"prompts: {len(made)} made in {args.prompts_dir}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
