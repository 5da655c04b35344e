"""psql's PROMPT1, PROMPT2 and PROMPT3: the %-escapes of its get_prompt, for the prompts people set in
~/.psqlrc (``\\set PROMPT1 '%n@%m:%>/%/%R%x%# '``, colours between ``%[`` and ``%]``).

The text keeps psql's readline markers: ``%[`` and ``%]`` become \\001 and \\002, which
-n prints as psql does (a terminal ignores them) and the line editor drops, reading the
escape sequences between them as styles (app._styled). ``%w`` is the visible width of the
PROMPT1 shown last, so PROMPT2 can line its text up under the first line.
"""

from __future__ import annotations

import os
import subprocess
from typing import TYPE_CHECKING

from prompt_toolkit.utils import get_cwidth

from nl2sql_shell.own_environment import for_children
from nl2sql_shell.repl.pipes import SH, sh
from nl2sql_shell.repl.variables import boolean

if TYPE_CHECKING:
    from nl2sql_shell.repl.shell import Shell

_OCTAL = "01234567"
_INVISIBLE_START, _INVISIBLE_END = "\001", "\002"
MAX_PROMPT_BYTES = 256  # psql's MAX_PROMPT_SIZE


class PromptRenderer:
    """The prompts of one shell: PROMPT1 once per new statement, PROMPT2 for each line after."""

    def __init__(self, shell: Shell) -> None:
        self.shell = shell
        self.width = 0  # psql's last_prompt1_width, for %w
        self._commands: dict[str, str] = {}  # %`command` output, run once per prompt

    def first(self) -> str:
        """PROMPT1, with %R the shell's state: '@' in an \\if branch not taken, '!' without a
        connection, '^' in single-line mode, else '='."""
        self._commands.clear()
        shell = self.shell
        if not shell.conditions.active():
            state = "@"
        elif not _connected(shell):
            state = "!"
        else:
            state = "^" if boolean(shell.variables.get("SINGLELINE")) else "="
        text = self._render(shell.variables.get("PROMPT1", ""), state, 1)
        self.width = visible_width(text)
        return text

    def copy(self) -> str:
        """PROMPT3, before each line of COPY data typed at a terminal (%R shows nothing)."""
        return self._render(self.shell.variables.get("PROMPT3", ""), "", 1)

    @property
    def numbers_lines(self) -> bool:
        """Whether PROMPT2 shows %l, which costs a scan of every line before the one drawn."""
        return "%l" in self.shell.variables.get("PROMPT2", "")

    def continuation(self, state: str, line: int) -> str:
        """PROMPT2 for the statement's ``line`` (2 for its second), %R the state the lines
        before it left: '-', or the open quote, comment or parenthesis."""
        return self._render(self.shell.variables.get("PROMPT2", ""), state or "-", line)

    def _render(self, template: str, state: str, line: int) -> str:
        out: list[str] = []
        i = 0
        while i < len(template):
            char = template[i]
            i += 1
            if char != "%":
                out.append(char)
                continue
            if i == len(template):
                break  # a lone % at the end shows nothing
            code = template[i]
            i += 1
            if code in _OCTAL:
                end = i - 1
                while end < len(template) and template[end] in _OCTAL:
                    end += 1
                out.append(_octal_byte(int(template[i - 1 : end], 8)))
                i = end
            elif code in (":", "`"):
                end = template.find(code, i)
                end = len(template) if end < 0 else end
                name, i = template[i:end], end + 1
                out.append(self.shell.variables.get(name, "") if code == ":" else self._command(name))
            else:
                out.append(self._escape(code, state, line))
        # the bytes psql writes (an octal escape's raw byte among them, see _octal_byte), cut at
        # psql's buffer size; bytes that are no UTF-8 show as a terminal shows them
        data = "".join(out).encode("utf-8", "surrogateescape")
        return data[:MAX_PROMPT_BYTES].decode("utf-8", "replace" if len(data) <= MAX_PROMPT_BYTES else "ignore")

    def _escape(self, code: str, state: str, line: int) -> str:
        """One escape letter; an unknown one stands for itself (``%%`` is %)."""
        fixed = {"R": state, "l": str(line), "w": " " * self.width, "[": _INVISIBLE_START, "]": _INVISIBLE_END}
        if code in fixed:
            return fixed[code]
        if code not in "/~Mm>npx#":
            return code
        if not _connected(self.shell):
            return {"x": "?", "#": ">"}.get(code, "")
        shell, info = self.shell, self.shell.conn.info
        match code:
            case "/":
                return info.dbname
            case "~":
                return "~" if info.dbname in (info.user, os.environ.get("PGDATABASE")) else info.dbname
            case "M":
                return (f"[local:{info.host}]" if "host" in _given(shell) else "[local]") if _on_socket(shell) else info.host
            case "m":
                return "[local]" if _on_socket(shell) else info.host.split(".")[0]
            case ">":
                return str(info.port)
            case "n":
                return info.parameter_status("session_authorization") or info.user
            case "p":
                return str(info.backend_pid)
            case "x":
                return shell.transaction_marker()
        return "#" if shell.is_superuser() else ">"

    def _command(self, command: str) -> str:
        """``%`command```: the first line the command prints (run under /bin/sh, as psql's
        popen; its errors go to the terminal), without its line end."""
        if command not in self._commands:
            try:
                done = subprocess.run(sh(command), executable=SH, stdout=subprocess.PIPE, check=False, timeout=10, env=for_children())
                first = done.stdout.decode(errors="replace").split("\n", 1)[0]
            except (OSError, subprocess.TimeoutExpired):
                first = ""
            self._commands[command] = first.rstrip("\r\n")
        return self._commands[command]


def visible_width(text: str) -> int:
    """The columns ``text`` takes on the last line a terminal shows of it, as psql measures
    PROMPT1 for %w: nothing between \\001 and \\002, no control characters."""
    width, visible = 0, True
    for char in text:
        if char == _INVISIBLE_START:
            visible = False
        elif char == _INVISIBLE_END:
            visible = True
        elif char == "\n":
            width = 0
        elif visible and char.isprintable():
            width += get_cwidth(char)
    return width


def _connected(shell: Shell) -> bool:
    return not (shell.conn.closed or shell.conn.broken) and shell.connected


def _on_socket(shell: Shell) -> bool:
    return shell.conn.info.host.startswith(("/", "@"))


def _given(shell: Shell) -> dict[str, str]:
    """The connection parameters the user gave (psql's default socket is the one libpq picks
    when no host is given)."""
    from psycopg.conninfo import conninfo_to_dict

    return {k: str(v) for k, v in conninfo_to_dict(shell.conn.info.dsn).items()}


def _octal_byte(value: int) -> str:
    """psql's `%NNN`: the byte (char) strtol(NNN) (past a long's range, its largest value),
    which ends the piece when it is 0 (`%0`, `%400`: nothing); a byte above 127 is kept raw
    (as a surrogate escape), so that `%303%251` is the é its two bytes spell."""
    byte = min(value, 2**63 - 1) & 0xFF
    return "" if byte == 0 else chr(byte) if byte < 0x80 else chr(0xDC00 + byte)
