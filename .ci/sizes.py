#!/usr/bin/env python3
"""Room sizes (issue #14, STYLE G10): no file under src/ over ~400 lines excluding its
`#[cfg(test)]` module, no function over ~80 lines, no `macro_rules!` body over ~40 lines.
Prints the offenders and exits 1 when there are any. Run by .ci/run."""
import pathlib
import re
import sys

FILE_MAX, FN_MAX, MACRO_MAX = 420, 85, 40
root = pathlib.Path(__file__).resolve().parent.parent / "src"
bad = []


def block_end(lines, start):
    """Index of the line closing the brace block opened at or after `start`."""
    depth, seen = 0, False
    for i in range(start, len(lines)):
        code = re.sub(r'"(\\.|[^"\\])*"', '""', lines[i].split("//")[0])
        for ch in code:
            if ch == "{":
                depth, seen = depth + 1, True
            elif ch == "}":
                depth -= 1
                if seen and depth == 0:
                    return i
    return len(lines) - 1


def is_declaration(lines, start):
    """Whether the fn at `start` is a trait declaration (`;` before any `{`)."""
    for l in lines[start:]:
        code = l.split("//")[0]
        brace, semi = code.find("{"), code.find(";")
        if semi != -1 and (brace == -1 or semi < brace):
            return True
        if brace != -1:
            return False
    return True


for path in sorted(root.rglob("*.rs")):
    lines = path.read_text().splitlines()
    rel = path.relative_to(root.parent)
    test_at = next((i for i, l in enumerate(lines) if l.strip() == "#[cfg(test)]"
                    and i + 1 < len(lines) and lines[i + 1].lstrip().startswith("mod ")), None)
    body = lines if test_at is None else lines[:test_at]
    if len(body) > FILE_MAX:
        bad.append(f"{rel}: {len(body)} lines outside tests (max ~400)")
    for i, l in enumerate(body):
        m = re.match(r"\s*(pub(\([^)]*\))?\s+)?(async\s+)?(const\s+)?fn\s+(\w+)", l)
        if m and not is_declaration(body, i):
            n = block_end(body, i) - i + 1
            if n > FN_MAX:
                bad.append(f"{rel}:{i + 1}: fn {m.group(5)} is {n} lines (max ~80)")
        m = re.match(r"\s*macro_rules!\s*(\w+)", l)
        if m:
            n = block_end(body, i) - i + 1
            if n > MACRO_MAX:
                bad.append(f"{rel}:{i + 1}: macro {m.group(1)} is {n} lines (max ~40)")

print("\n".join(bad) if bad else "sizes ok")
sys.exit(1 if bad else 0)
