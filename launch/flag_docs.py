#!/usr/bin/env python3
"""Writes docs/flags.md from launch/flags.cc (the only place flags are defined).

usage: python3 launch/flag_docs.py > docs/flags.md
"""
import os
import re

HERE = os.path.dirname(os.path.abspath(__file__))
src = open(os.path.join(HERE, "flags.cc")).read()
# DEFINE_type(name, default, "help" "help"...); possibly over several lines.
pattern = re.compile(r'DEFINE_(\w+)\(\s*(\w+),\s*((?:"(?:[^"\\]|\\.)*")|[^,]+),\s*((?:"(?:[^"\\]|\\.)*"\s*)+)\);', re.S)
section = None
print("# Flags of the msrec program\n")
print("Generated from `launch/flags.cc` (the only place flags are defined; they are copied into "
      "options structs there) by `python3 launch/flag_docs.py > docs/flags.md`. "
      "`msrec <command> --helpon=flags` prints the same list. Flags may also come from "
      "flagfiles: `--flagfile=configs/X.flags` (later flags win).\n")
print("| flag | type | default | meaning |")
print("|---|---|---|---|")
for m in pattern.finditer(src):
    kind, name, default, helptext = m.groups()
    helptext = "".join(re.findall(r'"((?:[^"\\]|\\.)*)"', helptext))
    cell = lambda s: s.replace("|", "\\|").replace("\\\\", "\\")
    print(f"| `--{name}` | {kind} | `{cell(default.strip())}` | {cell(helptext)} |")
