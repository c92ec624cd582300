"""File tools confined to configured roots (default /tmp and /home/agent): no '..', no symlink escapes, no absolute
paths outside the roots, bounded sizes."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from agent_runtime.tools import Tool, ToolError, params, table


class Sandbox:
    def __init__(self, roots: list[str], max_bytes: int):
        self.roots = [Path(os.path.realpath(r)) for r in roots]
        self.max_bytes = max_bytes

    def resolve(self, path: str) -> Path:
        if not path or "\x00" in path:
            raise ToolError("path is empty or contains a NUL byte")
        if ".." in Path(path).parts:
            raise ToolError(f"'..' is not allowed in paths ({path})")
        p = Path(path)
        if not p.is_absolute():
            p = self.roots[0] / p
        real = Path(os.path.realpath(p))  # follows symlinks: a link pointing outside is caught here
        for root in self.roots:
            if real == root or root in real.parents:
                return real
        raise ToolError(f"{path} is outside the allowed directories ({', '.join(map(str, self.roots))})")


def tools(settings: Any) -> list[Tool]:
    box = Sandbox(list(settings.file_roots), settings.file_max_bytes)

    async def file_list(a: dict[str, Any]) -> str:
        p = box.resolve(a["path"])
        if not p.is_dir():
            raise ToolError(f"{a['path']} is not a directory")
        rows = []
        for entry in sorted(p.iterdir())[:500]:
            kind = "dir" if entry.is_dir() else ("link" if entry.is_symlink() else "file")
            size = entry.lstat().st_size if kind != "dir" else ""
            rows.append([entry.name + ("/" if kind == "dir" else ""), kind, size])
        return table(rows, ["NAME", "TYPE", "SIZE"])

    async def file_read(a: dict[str, Any]) -> str:
        p = box.resolve(a["path"])
        if not p.is_file():
            raise ToolError(f"{a['path']} is not a file")
        size = p.stat().st_size
        if size > box.max_bytes:
            raise ToolError(f"{a['path']} is {size} bytes; the limit is {box.max_bytes}")
        data = p.read_bytes()
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            raise ToolError(f"{a['path']} is not UTF-8 text") from None

    async def file_write(a: dict[str, Any]) -> str:
        content = a["content"]
        if len(content.encode()) > box.max_bytes:
            raise ToolError(f"content is larger than the {box.max_bytes}-byte limit")
        p = box.resolve(a["path"])
        if ".git" in Path(a["path"]).parts or ".git" in p.parts:
            raise ToolError(f"{a['path']} is inside a .git directory: git metadata cannot be written with file_write")
        if p.is_dir():
            raise ToolError(f"{a['path']} is a directory")
        box.resolve(str(p.parent))  # the parent must be inside a root too
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(content)
        return f"wrote {len(content.encode())} bytes to {p}"

    path = {"path": {"type": "string", "description": "Path under /tmp or /home/agent"}}
    return [
        Tool("file_list", "List a directory", params(path, ["path"]), file_list, group="files"),
        Tool("file_read", "Read a UTF-8 text file", params(path, ["path"]), file_read, group="files"),
        Tool(
            "file_write",
            "Create or overwrite a text file",
            params({**path, "content": {"type": "string"}}, ["path", "content"]),
            file_write,
            destructive=True,
            group="files",
        ),
    ]
