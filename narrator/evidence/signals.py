"""Code-level and text-level signals that a change matters to users, each citing where it shows.

One job: ``find_signals(files)`` reads a commit's parsed patch and returns ``Signal`` records, each with the
path, the line number (old file for a removal, new file for an addition) and the line text that shows it.
``text_signals(...)`` finds security markers in a commit's subject/body, its changelog entries and tag notes.

Code signals are looked for only in shipped source (``paths.path_kind == "source"``): a removed test
function is not a removed API, a default changed in a fixture is not a changed default.

| kind               | what it means                                    | idioms recognised                         |
|--------------------|--------------------------------------------------|-------------------------------------------|
| api_removed        | a public function/class/method/constant is gone  | Python ``def``/``class`` (no ``_``, not nested, not in a ``_private`` module); JS/TS ``export function/class/const``, ``exports.x =``, TS ``public m(`` (not ``export {a}`` lists); Go exported ``func``/``type`` (not ``internal/``, not package main); PHP ``function`` (not private/protected), ``class``, ``public const``; Java ``public`` methods/classes; Ruby ``def`` outside a ``private``/``protected`` section, ``class``/``module`` |
| api_renamed        | the same definition under a new name             | a removed and an added definition in one hunk with the same parameters |
| option_removed     | a command-line option is gone                    | argparse ``add_argument('--x')``, optparse, click/typer ``option('--x')``, commander/yargs ``.option('--x')``, cobra ``Flags().StringVar(&v, "x", ...)``, Go ``flag.String("x")``, urfave/cli ``&cli.StringFlag{Name: "x"}``, Symfony ``addOption('x')``/``new InputOption('x')``, picocli ``@Option(names = "--x")``, OptionParser ``on('--x')``, Thor ``method_option :x`` |
| option_renamed     | an option under a new name                       | removed and added option lines in one hunk that differ only by the name |
| env_removed        | an environment variable is no longer read        | ``os.environ["X"]``, ``os.getenv("X")``, ``process.env.X``, ``os.Getenv("X")``, ``getenv('X')``, ``ENV['X']``, ``ENV.fetch``, ``System.getenv("X")``, ``$_ENV['X']``, ``env('X')`` |
| default_changed    | a default value changed                          | keyword defaults in signatures (``code: int = 302`` -> ``303``), option ``default=``/``Default:``/cobra/Symfony defaults, property/field initialisers (``private $x = true;``), ``DEFAULT_*`` names, literal values in config/defaults files |
| exit_code_changed  | a process exit status changed                    | ``sys.exit(N)``, ``os.Exit(N)``, ``process.exit(N)``, ``System.exit(N)``, ``exit N``, ``process.exitCode = N``, ``EXIT_*``/``STATUS_*`` constants |
| deprecation_added  | something is now deprecated                      | Python ``warnings.warn(..., DeprecationWarning)``, ``@deprecated``, ``.. deprecated::``; JS ``@deprecated``, ``util.deprecate``, ``console.warn("... deprecated")``; Go ``// Deprecated:``; PHP ``@deprecated``, ``trigger_error(..., E_USER_DEPRECATED)``, ``trigger_deprecation(``; Java ``@Deprecated``/``@deprecated``; Ruby ``warn "... deprecated"``, ``ActiveSupport::Deprecation``, ``Gem::Deprecate``, ``deprecate :x``; any warning call whose message says "deprecated" |
| security           | a security fix or advisory                       | (text) GHSA/CVE ids, ``/security/advisories/`` links, GitHub's "Merge commit from fork", a Security changelog entry (strong); "vulnerability", "XSS", "path traversal", ... (weak) |

Removals are conservative: a definition that reappears anywhere in the commit's added source (moved to
another file, kept as an attribute or alias) is not removed; a removed and an added definition in the same
hunk with the same parameter list is a rename. Docs pages that stop documenting an option or environment
variable give ``where="docs"`` signals (weaker: the code may compute the name).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable, Iterable, Iterator, Sequence

from narrator.evidence.patch import FilePatch, Hunk
from narrator.evidence.paths import language_of, path_kind
from narrator.evidence.refs import find_refs

__all__ = ["Signal", "SIGNAL_KINDS", "BEHAVIOUR_KINDS", "find_signals", "text_signals"]

SIGNAL_KINDS = ("api_removed", "api_renamed", "option_removed", "option_renamed", "env_removed", "default_changed",
                "exit_code_changed", "deprecation_added", "security")
BEHAVIOUR_KINDS = frozenset(SIGNAL_KINDS) - {"security"}
_MAX_TEXT = 200


@dataclass(frozen=True, slots=True)
class Signal:
    """One piece of evidence. ``path``/``line`` are empty/0 for text signals (``where`` says which text)."""

    kind: str
    name: str
    path: str
    line: int
    text: str
    detail: str = ""
    language: str | None = None
    where: str = "source"  # source, docs, subject, body, changelog, tag
    strength: str = "strong"  # strong, weak


def _short(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= _MAX_TEXT else text[:_MAX_TEXT - 1] + "\u2026"


# ------------------------------------------------------------------------------------- walking hunks

# Cheap tests on a hunk's raw text (substring searches at C speed): a hunk is read line by line for a family
# of signals only when its text could hold one, so most hunks of most commits are never walked.
_TRIGGER_DEFS = {
    "Python": ("def ", "class "), "JavaScript": ("export", "public "), "Go": ("func ", "type "),
    "PHP": ("function ", "class ", "interface ", "trait ", "enum ", "const "), "Java": ("public ", "class "),
    "Ruby": ("def ", "class ", "module "),
}
_TRIGGER_DEFS["TypeScript"] = _TRIGGER_DEFS["JavaScript"]
_TRIGGER_DEFS["Kotlin"] = _TRIGGER_DEFS["Java"]
_TRIGGER_OPTIONS = ("rgument", "ption", "Flags()", "flag.", "Flag{", "Name:", ".on(")
_TRIGGER_ENV = ("env", "ENV", "Env")
_TRIGGER_EXIT = ("xit", "STATUS", "Status")
_TRIGGER_DEPRECATION = ("eprecat", "DEPRECAT", "warn", "Warn", "trigger_error")
_LITERAL_VALUE = (r"""[ \t]*(?P<value>-?\d[\w.]*|true|false|True|False|None|null|nil|undefined|'[^'\n]{0,80}'|"""
                  r'"[^"\n]{0,80}")')
# Each pattern starts with a literal character, so the regular expression engine skips ahead at C speed.
_EQ_VALUE = re.compile(r"=(?<![=!<>]=)(?!=)>?" + _LITERAL_VALUE)
_COLON_VALUE = re.compile(r":(?<!::)(?!:)=?" + _LITERAL_VALUE)
_NAME_BEFORE = re.compile(r"""(?P<name>[A-Za-z_$][\w$.-]*)['"]?[ \t]*(?::[ \t]*[^=\n,()]{0,40})?[ \t]*$""")
_OPTION_DEFINITIONS = ("Flags()", "flag.", "addOption", "InputOption", "option(", "Option(", "add_argument")
_MAX_DEFAULT_HUNK = 40  # a default change is a small replacement; in a larger rewrite it is noise


def _any(text: str, needles: Sequence[str]) -> bool:
    for needle in needles:
        if needle in text:
            return True
    return False


def _assigned(text: str) -> dict[str, set[str]]:
    """name -> literal values it is given in ``text`` (the prefilter of default changes)."""
    out: dict[str, set[str]] = {}
    matches = list(_EQ_VALUE.finditer(text)) if "=" in text else []
    if ":" in text:
        matches += _COLON_VALUE.finditer(text)
    for m in matches:
        line_start = max(text.rfind("\n", 0, m.start()) + 1, m.start() - 80)
        before = _NAME_BEFORE.search(text, line_start, m.start())
        if before:
            out.setdefault(before.group("name"), set()).add(m.group("value"))
    return out


def _may_change_default(removed: str, added: str) -> bool:
    """True when some name is given a literal on both sides of a hunk (its removed and added text), with a
    different value."""
    if not removed or not added or removed.count("\n") >= _MAX_DEFAULT_HUNK or added.count("\n") >= _MAX_DEFAULT_HUNK:
        return False
    if _any(removed, _OPTION_DEFINITIONS) and _any(added, _OPTION_DEFINITIONS):
        return True  # positional option defaults (cobra, Go flag, Symfony) have no "=" to look for
    old = _assigned(removed)
    if not old:
        return False
    new = _assigned(added)
    return any(name in new and values != new[name] for name, values in old.items())


def _walk(hunk: Hunk) -> Iterator[tuple[str, int, str]]:
    """(mark, number, text) for each body line: mark is '+', '-' or ' '; number in the new file for '+'
    and ' ', in the old file for '-'."""
    old, new = hunk.old_start, hunk.new_start
    for raw in hunk.body:
        head = raw[:1]
        if head == "+":
            yield "+", new, raw[1:]
            new += 1
        elif head == "-":
            yield "-", old, raw[1:]
            old += 1
        elif head == "\\":
            continue
        else:
            yield " ", new, raw[1:]
            old += 1
            new += 1


def _lines_with(hunk: Hunk, needles: Sequence[str]) -> list[tuple[str, int, str]]:
    """(mark, number, text) of the body lines holding any of ``needles``, in order: found with ``str.find`` and
    numbered by counting (C speed), so a large hunk with two interesting lines costs two lines, not all."""
    text = hunk.text
    starts: set[int] = set()
    for needle in needles:
        at = text.find(needle)
        while at != -1:
            starts.add(text.rfind("\n", 0, at) + 1)
            end = text.find("\n", at)
            if end == -1:
                break
            at = text.find(needle, end)
    out = []
    first = text[:1]
    # The marks before each line, counted on from the "\n" before the last line found (not from the start for
    # every line: a large hunk is counted once); no "\n+", "\n-" or "\n\\" ends on a "\n", so the sums are the same.
    cut = newlines = pluses = minuses = backs = 0
    for start in sorted(starts):
        end = text.find("\n", start)
        line = text[start:end] if end != -1 else text[start:]
        mark = line[:1] or " "
        if mark not in "+- ":
            continue
        newlines += text.count("\n", cut, start)
        pluses += text.count("\n+", cut, start)
        minuses += text.count("\n-", cut, start)
        backs += text.count("\n\\", cut, start)
        lead = start > 0
        back = backs + (lead and first == "\\")
        if mark == "-":
            number = hunk.old_start + newlines - (pluses + (lead and first == "+")) - back
        else:
            number = hunk.new_start + newlines - (minuses + (lead and first == "-")) - back
        out.append((mark, number, line[1:]))
        if lead:  # the next count starts at the "\n" before this line
            cut = start - 1
            newlines -= 1
    return out


def _lines_before(text: str, hunk_text: str, count: int = 4) -> list[str]:
    """The ``count`` body lines just above ``text`` in a hunk (for context such as ``&cli.StringFlag{``)."""
    at = hunk_text.find(text)
    if at <= 0:
        return []
    return [line[1:] for line in hunk_text[max(0, at - 400):at].split("\n")[-count - 1:-1]]


# ------------------------------------------------------------------------------------- definitions

@dataclass(frozen=True, slots=True)
class _Def:
    name: str
    kind: str  # function, class, constant
    line: int
    text: str
    tail: str  # the text after the name (parameters), whitespace-normalised
    hunk: int
    qualified: str


_PY_DEF = re.compile(r"^(?P<indent>[ \t]*)(?:async[ \t]+)?(?P<what>def|class)[ \t]+(?P<name>[A-Za-z_]\w*)"
                     r"(?P<tail>[ \t]*[(:].*)$")
# Methods that classes commonly override from a base (a mapping, a stream, a thread): removing the override
# leaves the inherited method in place, so it is not a removed API.
_COMMON_OVERRIDES = frozenset("""get set setdefault pop popitem update keys values items clear copy close read write
flush run start stop handle emit format toString equals hashCode compareTo clone finalize String Error Len Less Swap
ServeHTTP MarshalJSON UnmarshalJSON jsonSerialize getIterator offsetGet offsetSet offsetExists offsetUnset count
to_s to_h to_a inspect each call""".split())
_JS_DEFS = [
    re.compile(r"^\s*export\s+(?:default\s+)?(?:declare\s+)?(?:async\s+)?function\s*\*?\s*(?P<name>[A-Za-z_$][\w$]*)(?P<tail>.*)$"),
    re.compile(r"^\s*export\s+(?:default\s+)?(?:declare\s+)?(?:abstract\s+)?class\s+(?P<name>[A-Za-z_$][\w$]*)(?P<tail>.*)$"),
    re.compile(r"^\s*export\s+(?:declare\s+)?(?:const|let|var|enum|interface|type|namespace|abstract class)\s+"
               r"(?P<name>[A-Za-z_$][\w$]*)(?P<tail>.*)$"),
    re.compile(r"^\s*(?:module\.)?exports\.(?P<name>[A-Za-z_$][\w$]*)\s*=(?P<tail>.*)$"),
    re.compile(r"^\s*public\s+(?:static\s+|async\s+|readonly\s+|override\s+)*(?P<name>[A-Za-z_$][\w$]*)\s*(?P<tail>[(<].*)$"),
]
_GO_FUNC = re.compile(r"^func\s+(?:\((?P<recv>[^)]*)\)\s*)?(?P<name>[A-Z]\w*)\s*(?P<tail>[\[(].*)$")
_GO_TYPE = re.compile(r"^type\s+(?P<name>[A-Z]\w*)\b(?P<tail>.*)$")
_PHP_FUNC = re.compile(r"^\s*(?P<mods>(?:(?:final|abstract|static|public|private|protected|readonly)\s+)*)function\s+&?"
                       r"(?P<name>[A-Za-z_]\w*)\s*(?P<tail>\(.*)$")
_PHP_CLASS = re.compile(r"^\s*(?:(?:final|abstract|readonly)\s+)*(?:class|interface|trait|enum)\s+(?P<name>[A-Za-z_]\w*)"
                        r"(?P<tail>.*)$")
_PHP_CONST = re.compile(r"^\s*(?:final\s+)?public\s+const\s+(?:\w+\s+)?(?P<name>[A-Z][A-Z0-9_]*)\s*=(?P<tail>.*)$")
_JAVA_CLASS = re.compile(r"^\s*public\s+(?:(?:static|final|abstract|sealed|non-sealed|strictfp)\s+)*"
                         r"(?:class|interface|enum|record|@interface)\s+(?P<name>[A-Za-z_$][\w$]*)(?P<tail>.*)$")
_JAVA_METHOD = re.compile(r"^\s*public\s+(?:(?:static|final|abstract|synchronized|native|default|strictfp)\s+)*"
                          r"(?:<[^>]+>\s+)?(?:[\w$.]+(?:<[^()]*>)?(?:\[\])*\s+)?(?P<name>[A-Za-z_$][\w$]*)\s*(?P<tail>\(.*)$")
_RUBY_DEF = re.compile(r"^(?P<indent>\s*)(?P<private>private\s+|protected\s+)?def\s+(?P<self>self\.)?"
                       r"(?P<name>[A-Za-z_]\w*[?!=]?)(?P<tail>.*)$")
_RUBY_CLASS = re.compile(r"^\s*(?:class|module)\s+(?P<name>[A-Z][\w:]*)(?P<tail>.*)$")
_RUBY_SECTION = re.compile(r"^(?P<indent>\s*)(?P<vis>private|protected|public)\s*(?:#.*)?$")
_DEF_HINT = {
    "Python": ("def ", "class "), "JavaScript": ("export", "exports.", "public "), "TypeScript": ("export", "exports.", "public "),
    "Go": ("func ", "type "), "PHP": ("function ", "class ", "interface ", "trait ", "enum ", "const "),
    "Java": ("public ", "class ", "interface ", "enum ", "record "), "Kotlin": ("public ", "class "),
    "Ruby": ("def ", "class ", "module ", "private", "protected", "public"),
}


def _norm_tail(tail: str) -> str:
    return re.sub(r"\s+", "", tail)[:160]


def _is_private_module(path: str, language: str) -> bool:
    parts = path.split("/")
    if language == "Python":
        return any(p.startswith("_") and p not in ("__init__.py", "__main__.py") for p in parts)
    if language == "Go":
        return "internal" in parts[:-1] or parts[-1] == "main.go" or (parts[0] == "cmd")
    return any(p in ("internal", "private", "_internal") for p in parts[:-1])


class _Scope:
    """What encloses the current line on one side of a hunk (old or new file)."""

    __slots__ = ("section", "stack", "visibility", "cls")

    def __init__(self, section: str, cls: str | None) -> None:
        self.section = section
        self.stack: list[tuple[int, str, str]] = []  # Python: (indent, "def"/"class", name) of open blocks
        self.visibility: list[tuple[int, str]] = []  # Ruby: (indent, private/protected/public) sections
        self.cls = cls  # PHP/Java: the class being read


_CLASS_DECL = re.compile(r"^\s*(?:(?:public|final|abstract|static|readonly|sealed|non-sealed|private|protected)\s+)*"
                         r"(?:class|interface|trait|enum|record)\s+(?P<name>[A-Za-z_$][\w$]*)")


_CLASS_DECL_ANYWHERE = re.compile(r"^[ +-]\s*(?:(?:public|final|abstract|static|readonly|sealed|private|protected)\s+)*"
                                  r"(?:class|interface|trait|enum|record)\s+([A-Za-z_$][\w$]*)", re.M)


def _definitions(patch: FilePatch, hunks: Sequence[Hunk], language: str,
                 changed: Sequence[tuple[str, str]]) -> tuple[list[_Def], list[_Def]]:
    """(removed definitions, added definitions) of public API in one file."""
    removed: list[_Def] = []
    added: list[_Def] = []
    hints = _DEF_HINT.get(language)
    if not hints or _is_private_module(patch.path, language):
        return removed, added
    if language == "Go" and any("package main" in h.text[:4000] for h in hunks):
        return removed, added
    carried: dict[str, str | None] = {"-": None, "+": None}
    trigger = _TRIGGER_DEFS.get(language)
    for index, hunk in enumerate(hunks):
        removed_text, added_text = changed[index]
        if trigger is not None and not (_any(removed_text, trigger) or _any(added_text, trigger)):
            if language in ("PHP", "Java", "Kotlin") and "class " in hunk.text:
                found_class = _CLASS_DECL_ANYWHERE.findall(hunk.text)
                if found_class:
                    carried = {"-": found_class[-1], "+": found_class[-1]}
            continue
        section_class = _CLASS_DECL.match(hunk.section or "")
        scopes = {side: _Scope(hunk.section, section_class.group("name") if section_class else carried[side])
                  for side in "-+"}
        for mark, number, text in _lines_with(hunk, hints):
            for side in ("-+" if mark == " " else mark):
                scope = scopes[side]
                if language == "Python" and text.strip():
                    _pop_python(scope.stack, text)
                found = _match_def(language, text, scope, mark)
                if language == "Python":
                    m = _PY_DEF.match(text)
                    if m:
                        scope.stack.append((len(m.group("indent")), m.group("what"), m.group("name")))
                if found is None or mark == " ":
                    continue
                name, kind, qualified, tail = found
                if mark == "-" and name in _COMMON_OVERRIDES and kind == "function" and qualified != name:
                    continue
                item = _Def(name, kind, number, _short(text), _norm_tail(tail), index, qualified)
                (removed if mark == "-" else added).append(item)
        carried = {side: scopes[side].cls for side in "-+"}
    return removed, added


def _pop_python(stack: list[tuple[int, str, str]], text: str) -> None:
    indent = len(text) - len(text.lstrip())
    while stack and stack[-1][0] >= indent:
        stack.pop()


def _match_def(language: str, text: str, scope: _Scope, mark: str) -> tuple[str, str, str, str] | None:
    """(name, kind, qualified name, text after the name) when ``text`` defines public API; updates ``scope``."""
    section = scope.section
    if language == "Python":
        m = _PY_DEF.match(text)
        if not m:
            return None
        name = m.group("name")
        if name.startswith("_"):
            return None
        indent = len(m.group("indent"))
        enclosing = [s for s in scope.stack if s[0] < indent]
        if indent and not enclosing:
            sm = re.match(r"^\s*(?:async\s+)?(def|class)\s+(\w+)", section or "")
            if not sm:
                return None  # indented, but inside what? not provably public
            enclosing = [(0, sm.group(1), sm.group(2))]
        if any(what == "def" for _, what, _ in enclosing):
            return None  # a nested helper
        if any(n.startswith("_") for _, _, n in enclosing):
            return None  # a member of a private class
        qualified = ".".join([n for _, _, n in enclosing] + [name])
        return name, "class" if m.group("what") == "class" else "function", qualified, m.group("tail")
    if language in ("JavaScript", "TypeScript"):
        for pattern in _JS_DEFS:
            m = pattern.match(text)
            if m:
                return m.group("name"), "function", m.group("name"), m.group("tail")
        return None
    if language == "Go":
        m = _GO_FUNC.match(text)
        if m:
            recv = m.group("recv")
            if recv:
                words = recv.split()
                recv_type = re.sub(r"\[.*$", "", words[-1].lstrip("*")) if words else ""
                if not recv_type[:1].isupper():
                    return None
                return m.group("name"), "function", f"{recv_type}.{m.group('name')}", m.group("tail")
            return m.group("name"), "function", m.group("name"), m.group("tail")
        m = _GO_TYPE.match(text)
        if m:
            return m.group("name"), "class", m.group("name"), m.group("tail")
        return None
    if language == "PHP":
        m = _PHP_CLASS.match(text)
        if m:
            scope.cls = m.group("name")
            return m.group("name"), "class", m.group("name"), m.group("tail")
        m = _PHP_FUNC.match(text)
        if m:
            if re.search(r"\b(private|protected)\b", m.group("mods")) or m.group("name").startswith("__"):
                return None
            qualified = f"{scope.cls}::{m.group('name')}" if scope.cls else m.group("name")
            return m.group("name"), "function", qualified, m.group("tail")
        m = _PHP_CONST.match(text)
        if m:
            qualified = f"{scope.cls}::{m.group('name')}" if scope.cls else m.group("name")
            return m.group("name"), "constant", qualified, m.group("tail")
        return None
    if language in ("Java", "Kotlin"):
        m = _CLASS_DECL.match(text)
        if m:
            scope.cls = m.group("name")
        m = _JAVA_CLASS.match(text)
        if m:
            return m.group("name"), "class", m.group("name"), m.group("tail")
        m = _JAVA_METHOD.match(text)
        if m and m.group("name") not in ("if", "for", "while", "switch", "return", "new"):
            qualified = f"{scope.cls}.{m.group('name')}" if scope.cls else m.group("name")
            return m.group("name"), "function", qualified, m.group("tail")
        return None
    if language == "Ruby":
        vis = _RUBY_SECTION.match(text)
        if vis:
            indent = len(vis.group("indent"))
            while scope.visibility and scope.visibility[-1][0] >= indent:
                scope.visibility.pop()
            scope.visibility.append((indent, vis.group("vis")))
            return None
        m = _RUBY_DEF.match(text)
        if m:
            indent = len(m.group("indent"))
            if m.group("private") or m.group("name").startswith("_"):
                return None
            if not m.group("self") and any(i == indent and v != "public" for i, v in scope.visibility):
                return None
            if not m.group("self") and re.search(r"^\s*(private|protected)\b", section or ""):
                return None
            return m.group("name"), "function", m.group("name"), m.group("tail")
        m = _RUBY_CLASS.match(text)
        if m:
            scope.visibility.clear()
            return m.group("name"), "class", m.group("name"), m.group("tail")
        return None
    return None


# ------------------------------------------------------------------------------------- CLI options

_OPTION_CALL = re.compile(
    r"(?:\badd_argument|\badd_option|\bclick\.option|\bcloup\.option|@option|\btyper\.Option|\bOption|\.option|"
    r"\bmethod_option|\bclass_option|\boption\s+:|@Option|@CommandLine\.Option|\.on)\s*\(?")
_NOT_OPTION_DEF = re.compile(r"\b(?:get|has|is|set|read|parse|with|remove)_?[Oo]ption|\boptions?\s*\[|getopt")
_SYMFONY = re.compile(r"""(?:\baddOption|\bnew\s+InputOption)\s*\(\s*['"](?P<name>[A-Za-z][\w-]*)['"]""")
_COBRA = re.compile(r"""Flags\(\)\s*\.\s*\w+\(\s*(?:&?[\w.\[\]]+\s*,\s*)?"(?P<name>[A-Za-z][\w-]*)"(?P<rest>.*)$""")
_GOFLAG = re.compile(r"""\bflag\.(?:String|Bool|Int|Int64|Uint|Uint64|Float64|Duration|Var|Func|TextVar|BoolFunc)"""
                     r"""(?:Var)?\(\s*(?:&?[\w.\[\]]+\s*,\s*)?"(?P<name>[A-Za-z][\w-]*)"(?P<rest>.*)$""")
_URFAVE = re.compile(r"""\bName:\s*"(?P<name>[A-Za-z][\w-]*)\"""")
_YARGS = re.compile(r"""\.option\(\s*['"](?P<name>[A-Za-z][\w-]*)['"]\s*,\s*\{""")
_THOR = re.compile(r"""\b(?:method_option|class_option|option)\s+:(?P<name>[a-z_]\w*)""")


def _option_names(text: str, language: str, recent: Sequence[str]) -> list[tuple[str, str]]:
    """(flag, rest of the definition) for every option this line defines."""
    out: list[tuple[str, str]] = []
    if not _any(text, _TRIGGER_OPTIONS):
        return out
    if "Name:" in text and language == "Go" and ("Flag{" in text or any("Flag{" in r for r in recent)):
        m = _URFAVE.search(text)
        if m:
            out.append(("--" + m.group("name"), text[m.end():]))
        return out
    if "Flags()" in text:
        m = _COBRA.search(text)
        if m:
            out.append(("--" + m.group("name"), m.group("rest")))
        return out
    if "flag." in text and language == "Go":
        m = _GOFLAG.search(text)
        if m:
            out.append(("-" + m.group("name"), m.group("rest")))
        return out
    if "Option" in text and language == "PHP":
        m = _SYMFONY.search(text)
        if m:
            out.append(("--" + m.group("name"), text[m.end():]))
        return out
    if language == "Ruby" and "option" in text:
        m = _THOR.search(text)
        if m:
            out.append(("--" + m.group("name").replace("_", "-"), text[m.end():]))
            return out
    call = _OPTION_CALL.search(text)
    if not call or _NOT_OPTION_DEF.search(text):
        return out
    if call.group(0).startswith(".on") and language != "Ruby":
        return out  # JS .on(...) is an event handler
    if language in ("JavaScript", "TypeScript"):
        m = _YARGS.search(text)
        if m:
            return [("--" + m.group("name"), text[m.end():])]
    after = text[call.start():]
    for m in _QUOTED.finditer(after):
        body = m.group("body")
        if not body.startswith("-"):
            continue
        for part in re.split(r"[,\s|/]+", body):
            fm = _FLAG.match(part)
            if fm:
                out.append((fm.group("flag").replace("[no-]", ""), after[m.end():]))
    return out


_QUOTED = re.compile(r"""(?P<q>['"])(?P<body>[^'"\n]*)(?P=q)""")
_FLAG = re.compile(r"^(?P<flag>--?(?:\[no-\])?[A-Za-z][\w-]*)")


def _longest(flags: Sequence[str]) -> str:
    return max(flags, key=lambda f: (f.startswith("--"), len(f)))


def _option_default(text: str, language: str) -> str | None:
    """The default value an option definition line gives (keyword ``default=``, Symfony's fifth argument,
    cobra's/Go flag's value argument), or None."""
    m = _OPTION_DEFAULT.search(text)
    if m:
        return " ".join(m.group("value").split())
    call = re.search(r"(?:\baddOption|\bnew\s+InputOption)\s*\(", text)
    if call:
        args = _split_args(text[call.end():])
        return " ".join(args[4].split()) if len(args) > 4 and args[4].strip() else None
    call = re.search(r"(?:Flags\(\)\s*\.\s*|\bflag\.)(?P<fn>\w+)\(", text)
    if call:
        args = [a.strip() for a in _split_args(text[call.end():])]
        names = [k for k, a in enumerate(args) if re.fullmatch(r'"[\w-]+"', a)]
        if names:
            k = names[0] + (2 if call.group("fn").endswith("P") else 1)
            return args[k] if k < len(args) and args[k] else None
    return None


# ------------------------------------------------------------------------------------- env vars

_ENV = re.compile(
    r"""(?:\b(?:getenv|getEnv|Getenv|LookupEnv|environ\.get|environ\.pop|environ\.setdefault|ENV\.fetch|"""
    r"""ENV\.key\?|System\.getenv|env|Env::get)\s*\(\s*['"](?P<a>[A-Z][A-Z0-9_]{2,})['"])"""
    r"""|(?:\b(?:environ|ENV)|\$_ENV|\$_SERVER|process\.env)\s*\[\s*['"](?P<b>[A-Z][A-Z0-9_]{2,})['"]\s*\]"""
    r"""|process\.env\.(?P<c>[A-Z][A-Z0-9_]{2,})""")


def _env_names(text: str) -> list[str]:
    if "env" not in text and "ENV" not in text and "Env" not in text:
        return []
    return [m.group("a") or m.group("b") or m.group("c") for m in _ENV.finditer(text)]


# ------------------------------------------------------------------------------------- defaults

_SIG_START = re.compile(r"(?:\bdef|\bfunction|\bfn)\s+&?(?P<name>[A-Za-z_$][\w$]*[?!]?)\s*\(")
_LITERAL = r"""(?:-?\d[\d_.]*[a-zA-Z]*|true|false|True|False|null|nil|None|undefined|'[^'\n]{0,80}'|"[^"\n]{0,80}"|\[\]|\{\}|\(\))"""
_PROPERTY = {
    "PHP": re.compile(r"^\s*(?:public|protected|private|var)\s+(?:static\s+)?(?:readonly\s+)?(?:\??[\w\\|]+\s+)?"
                      r"\$(?P<name>\w+)\s*=\s*(?P<value>[^;]+);"),
    "Java": re.compile(r"^\s*(?:public|protected|private)\s+(?:static\s+)?(?:final\s+)?[\w<>\[\], .?]+?\s+"
                       r"(?P<name>\w+)\s*=\s*(?P<value>[^;]+);"),
    "Python": re.compile(r"^    (?P<name>[a-z]\w*)\s*(?::\s*[^=]+?)?\s*=\s*(?P<value>" + _LITERAL + r")\s*(?:#.*)?$"),
    "Ruby": re.compile(r"^\s*(?P<name>[A-Z][A-Z0-9_]*DEFAULT\w*|DEFAULT\w*)\s*=\s*(?P<value>.+?)\s*$"),
}
_DEFAULT_NAME = re.compile(r"(?P<name>\b(?:[Dd]efault|DEFAULT|\w*_(?:default|DEFAULT)|\w*[a-z]Default)\w*)\s*"
                           r"(?::=|=(?![=>])|:(?!:))\s*(?P<value>[^;,{#]+?)\s*[;,]?\s*(?:(?:#|//).*)?$")
_OPTION_DEFAULT = re.compile(r"""\b(?:default|Default|defaultValue|Value)\s*[=:]\s*(?P<value>[^,)}]+)""")
_KEYED = re.compile(r"""^\s*['"]?(?P<name>[\w.-]+)['"]?\s*(?:=>|:|=)\s*(?P<value>""" + _LITERAL + r""")\s*,?\s*(?:#.*|//.*)?$""")
_CONFIG_FILE = re.compile(r"(?:^|/)[^/]*(?:config|default|setting|option|preference)s?[^/]*$", re.I)


def _split_args(text: str) -> list[str]:
    """Top-level comma-separated pieces of a parameter list (brackets and quotes respected)."""
    out, depth, current, quote = [], 0, [], ""
    for ch in text:
        if quote:
            current.append(ch)
            if ch == quote:
                quote = ""
            continue
        if ch in "'\"":
            quote = ch
        elif ch in "([{":
            depth += 1
        elif ch in ")]}":
            if depth == 0:
                break
            depth -= 1
        elif ch == "," and depth == 0:
            out.append("".join(current))
            current = []
            continue
        current.append(ch)
    out.append("".join(current))
    return out


_PARAM_DEFAULT = re.compile(r"^\s*(?:[\w\\?|]+\s+)?[&*]{0,2}\$?(?P<name>[A-Za-z_]\w*)\s*(?::\s*[^=]+?)?\s*=\s*(?P<value>\S.*?)\s*$")
_RUBY_KEYWORD = re.compile(r"^\s*(?P<name>[a-z_]\w*):\s+(?P<value>\S.*?)\s*$")
_SIGNATURE_LANGUAGES = frozenset({"Python", "JavaScript", "TypeScript", "PHP", "Ruby"})


def _param_defaults(params: str, language: str) -> dict[str, str]:
    """name -> default value for the parameters written in ``params`` (a piece of a signature)."""
    out = {}
    for piece in _split_args(params):
        if "=" in piece and "==" not in piece and "=>" not in piece:
            m = _PARAM_DEFAULT.match(piece)
            if m:
                out[m.group("name")] = " ".join(m.group("value").split())
        elif language == "Ruby" and ":" in piece:
            m = _RUBY_KEYWORD.match(piece)
            if m:
                out[m.group("name")] = " ".join(m.group("value").split())
    return out


def _close_paren(fragment: str, depth: int) -> tuple[int, int]:
    """Where the signature's parenthesis closes in ``fragment`` (or its end) and the depth after it."""
    quote = ""
    for i, ch in enumerate(fragment):
        if quote:
            if ch == quote:
                quote = ""
        elif ch in "'\"":
            quote = ch
        elif ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
            if depth == 0:
                return i, 0
    return len(fragment), depth


def _defaults(patch: FilePatch, hunks: Sequence[Hunk], language: str,
              texts: Sequence[tuple[str, str]]) -> dict[str, dict[tuple[str, str], tuple[str, int, str]]]:
    """For the old ('-') and new ('+') side: (scope, name) -> (value, line, text) of the default-bearing lines
    that were removed or added (signature parameters, option defaults, initialisers, DEFAULT_* names)."""
    sides: dict[str, dict[tuple[str, str], tuple[str, int, str]]] = {"-": {}, "+": {}}
    prop = _PROPERTY.get(language)
    config_file = bool(_CONFIG_FILE.search(patch.path))
    signatures = language in _SIGNATURE_LANGUAGES
    for index, hunk in enumerate(hunks):
        if not _may_change_default(*texts[index]):
            continue
        for side in "-+":
            function = None
            depth = 0
            length = 0
            in_class = (hunk.section or "").startswith("class ")
            for mark, number, text in _walk(hunk):
                if mark not in (" ", side):
                    continue
                changed = mark == side
                if language == "Python" and text[:1] not in ("", " ", "\t", "#", ")"):
                    in_class = text.startswith("class ")
                if function is None:
                    m = _SIG_START.search(text) if signatures else None
                    if m is None:
                        if changed:
                            _line_defaults(text, number, language, prop, in_class, config_file, sides[side])
                        continue
                    function, fragment, depth, length = m.group("name"), text[m.end():], 1, 0
                else:
                    fragment = text
                cut, depth = _close_paren(fragment, depth)
                if changed:
                    for name, value in _param_defaults(fragment[:cut], language).items():
                        sides[side][(function, name)] = (value, number, text)
                length += 1
                if depth <= 0 or length > 30:
                    function = None
    return sides


def _line_defaults(text: str, number: int, language: str, prop: re.Pattern[str] | None, in_class: bool,
                   config_file: bool, out: dict[tuple[str, str], tuple[str, int, str]]) -> None:
    """Record the default a single line gives: an option's default, an initialiser, a DEFAULT_* name, or a
    literal in a config/defaults file."""
    options = _option_names(text, language, ())
    if options:
        value = _option_default(text, language)
        if value is not None:
            out[("", _longest([flag for flag, _ in options]))] = (value, number, text)
        return
    if prop is not None:
        m = prop.match(text)
        if m and (language != "Python" or in_class):
            out[("", m.group("name"))] = (" ".join(m.group("value").split()), number, text)
            return
    if ("efault" in text or "DEFAULT" in text) and not text.lstrip().startswith(("#", "//", "*")):
        m = _DEFAULT_NAME.search(text)
        if m:
            out[("", m.group("name"))] = (" ".join(m.group("value").split()), number, text)
            return
    if config_file:
        m = _KEYED.match(text)
        if m:
            out[("", m.group("name"))] = (m.group("value"), number, text)


# ------------------------------------------------------------------------------------- exit codes

_EXIT = re.compile(r"(?:\bsys\.exit|\bos\.Exit|\bprocess\.exit|\bSystem\.exit|\bKernel\.exit!?|\bexit!?|\bos\._exit|"
                   r"\bRuntime\.getRuntime\(\)\.exit)\s*\(\s*(?P<a>-?\d+)\s*\)|\bexit\s+(?P<b>\d+)\b|"
                   r"process\.exitCode\s*=\s*(?P<c>\d+)")
_EXIT_CONST = re.compile(r"(?P<name>\b\w*(?:EXIT|STATUS|RETURN_CODE|ERR_CODE|ExitCode|EXITCODE)\w*)\s*(?::=|=)\s*"
                         r"(?P<value>-?\d+)\b")


# ------------------------------------------------------------------------------------- deprecations

_DEPRECATION_LINE = {
    "Python": re.compile(r"^\s*@(?:\w+\.)*deprecated\b|^\s*\.\. deprecated::|\bdeprecation\.deprecated\(|"
                         r"\bwarnings\.warn\(.*(?:Deprecation|FutureWarning)|\bwarn\(.*\b(?:Pending)?DeprecationWarning"),
    "JavaScript": re.compile(r"^\s*(?:/\*\*?|\*|//)\s*@deprecated\b|\butil\.deprecate\(|\bdeprecate\(|"
                             r"\bemitWarning\(.*Deprecation"),
    "Go": re.compile(r"^\s*//\s*Deprecated:"),
    "PHP": re.compile(r"^\s*(?:/\*\*?|\*)\s*@deprecated\b|\btrigger_error\(.*E_USER_DEPRECATED|\btrigger_deprecation\(|"
                      r"\bDeprecation::trigger"),
    "Java": re.compile(r"^\s*@Deprecated\b|^\s*(?:/\*\*?|\*)\s*@deprecated\b"),
    "Ruby": re.compile(r"\bActiveSupport::Deprecation\b|\bdeprecator\.warn\b|\bGem::Deprecate\b|^\s*deprecate\s+:|"
                       r"\brb_warn_deprecated\b|\bwarn\b.*deprecat", re.I),
}
_DEPRECATION_LINE["TypeScript"] = _DEPRECATION_LINE["JavaScript"]
_DEPRECATION_LINE["Kotlin"] = _DEPRECATION_LINE["Java"]
_WARN_CALL = re.compile(r"\b(?:warn\w*|writeError|emitWarning|log(?:ger)?\.\w+|console\.\w+|trigger_error|notice|"
                        r"Warning|print_warning)\s*\(", re.I)
_WARN_START = re.compile(r"\bwarnings\.warn\(|\btrigger_error\(|\bwarn\(")
_DEPRECATION_CLASS = re.compile(r"\b(?:Pending)?DeprecationWarning\b|\bFutureWarning\b|\bE_USER_DEPRECATED\b|"
                                r"RemovedIn\w+Warning|\w+DeprecationWarning")
_QUOTED_NAME = re.compile(r"""['"`]{1,2}(?P<name>[A-Za-z_$][\w.:$-]*(?:\(\))?)['"`]{1,2}""")


_RST_LITERAL = re.compile(r"``[^`\n]*``")  # reStructuredText inline literal: code named in prose
_MD_LITERAL = re.compile(r"`[^`\n]*`")  # Markdown inline code (in code of some languages, a string or a command)
_HASH_COMMENT = frozenset({"Python", "Ruby"})
_COMMENT_START = ("#", "//", "/*", "*")


def _code_of(text: str, language: str) -> str:
    """The part of an added line that can be code: a ``#`` comment line of Python or Ruby is none of it, and
    inline literals (``warnings.warn(..., DeprecationWarning)`` quoted in a docstring's table, a JSDoc's
    `util.deprecate()`) are prose naming code, not calls. Single backticks are prose only where they cannot be code
    (Python, and comment lines): JavaScript's template literals and Go's raw strings are real messages.
    Directives and doc-comment markers (``.. deprecated::``, ``@deprecated``, ``// Deprecated:``) stay: they are
    how those languages deprecate."""
    stripped = text.lstrip()
    if language in _HASH_COMMENT and stripped.startswith("#"):
        return ""
    if "`" not in text:
        return text
    text = _RST_LITERAL.sub(" ", text)
    if language == "Python" or stripped.startswith(_COMMENT_START):
        text = _MD_LITERAL.sub(" ", text)
    return text


def _deprecations(patch: FilePatch, hunks: Sequence[Hunk], language: str, removed_blob: Callable[[], str],
                  changed: Sequence[tuple[str, str]]) -> list[Signal]:
    pattern = _DEPRECATION_LINE.get(language)
    if pattern is None:
        return []
    out: list[Signal] = []
    for index, hunk in enumerate(hunks):
        if not _any(changed[index][1], _TRIGGER_DEPRECATION):
            continue
        lines = list(_walk(hunk))
        for k, (mark, number, raw) in enumerate(lines):
            if mark != "+" or "eprecat" not in raw and "DEPRECAT" not in raw and not _WARN_START.search(raw):
                continue
            text = _code_of(raw, language)
            if not text:
                continue
            hit = pattern.search(text) is not None
            if not hit and "eprecat" in text.lower() and _WARN_CALL.search(text) and re.search(
                    r"""['"`][^'"`]*deprecat""", text, re.I):
                hit = True  # a warning whose message says "deprecated"
            if not hit and _WARN_START.search(text):
                following = [t for m2, _, t in lines[k + 1:k + 8] if m2 == "+"]
                window = " ".join([text] + following)
                hit = _DEPRECATION_CLASS.search(window) is not None
            if not hit:
                continue
            key = " ".join(raw.split())
            if key and key in removed_blob():
                continue  # moved, not added
            out.append(Signal("deprecation_added", _deprecated_name(lines, k, hunk, language), patch.path, number,
                               _short(raw), "", language))
    return _dedupe_deprecations(out)


def _dedupe_deprecations(signals: list[Signal]) -> list[Signal]:
    """One signal per deprecated name and file (a docstring note and a warning for the same thing)."""
    seen: set[tuple[str, str]] = set()
    out = []
    for s in signals:
        key = (s.path, s.name)
        if s.name and key in seen:
            continue
        seen.add(key)
        out.append(s)
    return out


def _def_name(text: str) -> str | None:
    m = re.search(r"(?:\bdef|\bfunction|\bfunc|\bclass|\binterface|\btype)\s+(?:\([^)]*\)\s*)?&?(?P<name>[A-Za-z_$][\w$]*)", text)
    if m:
        return m.group("name")
    m = re.match(r"^\s*(?:public|protected|private)\s+[\w<>\[\], .?]*?\s(?P<name>[A-Za-z_$][\w$]*)\s*\(", text)
    if m:
        return m.group("name")
    m = re.match(r"^\s*(?:export\s+)?(?:const|let|var)\s+(?P<name>[A-Za-z_$][\w$]*)", text)
    if m:
        return m.group("name")
    # a class constant or property: PHP "public const ABANDONED_IGNORE = ...", Java "public static final int X = 1;"
    m = re.match(r"^\s*(?:(?:public|protected|private|static|final|readonly|const)\s+)+(?:[\w\\?<>\[\]|]+\s+)?"
                 r"\$?(?P<name>[A-Za-z_]\w*)\s*[=;]", text)
    if m:
        return m.group("name")
    m = re.match(r"^\s*(?P<name>[A-Za-z_]\w*)\s*(?::\s*[^=]+)?=", text)
    if m:
        return m.group("name")
    return None


def _deprecated_name(lines: list[tuple[str, int, str]], k: int, hunk: Hunk, language: str) -> str:
    text = lines[k][2]
    window = " ".join(t for m, _, t in lines[k:k + 6] if m != "-")
    if _WARN_CALL.search(text) or _WARN_START.search(text):
        m = _QUOTED_NAME.search(window)
        if m and not re.fullmatch(r"[a-z]+", m.group("name")):
            return m.group("name")
    marker_first = re.search(r"@deprecated|@Deprecated|//\s*Deprecated:|^\s*@\w*deprecated", text) is not None
    if marker_first:  # the definition that follows the marker
        for mark, _, following in lines[k + 1:k + 12]:
            if mark == "-":
                continue
            name = _def_name(following)
            if name and not following.lstrip().startswith(("*", "//", "#", "@")):
                return name
    for mark, _, previous in reversed(lines[max(0, k - 40):k]):  # the enclosing definition
        if mark == "-":
            continue
        name = _def_name(previous)
        if name and not previous.lstrip().startswith(("*", "//", "#")):
            return name
    return _def_name(hunk.section or "") or ""


# ------------------------------------------------------------------------------------- docs

_DOC_FLAG = re.compile(r"^\s*(?:[-*+]\s+|#+\s+)?(?:\*\*|`|``)?(?P<flag>--[a-z][\w-]*)")
_DOC_ENV_HEADING = re.compile(r"^\s*#{1,6}\s+`?(?P<name>[A-Z][A-Z0-9]*_[A-Z0-9_]+)`?\s*$")


_DOC_REMOVAL_HINT = re.compile(r"\n-[ \t]*(?:[-*+][ \t]+|#+[ \t]+)?(?:\*\*|`{1,2})?(?:--[a-z]|[A-Z][A-Z0-9]*_[A-Z0-9_]+`?[ \t]*\n)")


def _doc_removals(patch: FilePatch) -> tuple[list[Signal], set[str]]:
    out = []
    added = set()
    for line in patch.added_lines:
        m = _DOC_FLAG.match(line.text) or _DOC_ENV_HEADING.match(line.text)
        if m:
            added.add(m.group(1))
    for line in patch.removed_lines:
        m = _DOC_FLAG.match(line.text)
        if m and m.group("flag") not in added:
            out.append(Signal("option_removed", m.group("flag"), patch.path, line.number, _short(line.text),
                              "no longer documented", None, "docs", "weak"))
            continue
        m = _DOC_ENV_HEADING.match(line.text)
        if m and m.group("name") not in added:
            out.append(Signal("env_removed", m.group("name"), patch.path, line.number, _short(line.text),
                              "no longer documented", None, "docs", "weak"))
    return out, added


# ------------------------------------------------------------------------------------- the commit

_SIGNAL_LANGUAGES = frozenset({"Python", "JavaScript", "TypeScript", "Go", "PHP", "Java", "Kotlin", "Ruby"})


def find_signals(files: Sequence[FilePatch]) -> tuple[Signal, ...]:
    """The API/option/env/default/exit-code/deprecation signals of one commit's patch (see the table above)."""
    out: list[Signal] = []
    removed_defs: list[tuple[FilePatch, str, _Def]] = []
    added_defs: dict[tuple[str, str], list[tuple[FilePatch, _Def]]] = {}
    added_blob: dict[str, list[str]] = {}
    removed_opts: list[tuple[FilePatch, str, int, str, str, int]] = []
    added_opts: dict[str, list[tuple[str, str, int]]] = {}
    removed_env: list[tuple[FilePatch, str, str, int, str]] = []
    added_env: set[str] = set()
    doc_signals: list[Signal] = []
    source_files = []
    for patch in files:
        if not patch.body:
            continue
        kind = path_kind(patch.path, patch.is_binary)
        if kind in ("docs", "changelog"):
            body = patch.body
            if kind == "docs" and "\n-" in body and _DOC_REMOVAL_HINT.search(body):
                signals, _ = _doc_removals(patch)
                doc_signals.extend(signals)
            continue
        if kind != "source":
            continue
        language = language_of(patch.path)
        if language not in _SIGNAL_LANGUAGES:
            continue
        source_files.append((patch, language))
    # keyed by the patch object: a path can appear twice in odd input
    hunks_of = {id(patch): patch.hunks for patch, _ in source_files}
    changed_of = {key: [(h.removed_text, h.added_text) for h in hunks] for key, hunks in hunks_of.items()}
    added_text = {key: "\n".join(added for _, added in pairs) for key, pairs in changed_of.items()}
    for patch, language in source_files:
        added_blob.setdefault(language, []).append(added_text[id(patch)])
    removed_cache: list[str] = []

    def removed_blob() -> str:
        """The commit's removed source lines, whitespace-normalised (built once, only when needed)."""
        if not removed_cache:
            raw = "\n".join(removed for pairs in changed_of.values() for removed, _ in pairs)
            removed_cache.append("\n".join(" ".join(line.split()) for line in raw.split("\n")))
        return removed_cache[0]
    for patch, language in source_files:
        changed = changed_of[id(patch)]
        hunks = hunks_of[id(patch)]
        removed, added = _definitions(patch, hunks, language, changed)
        for d in removed:
            removed_defs.append((patch, language, d))
        for d in added:
            added_defs.setdefault((language, d.name), []).append((patch, d))
        for index, hunk in enumerate(hunks):
            raw = changed[index][0] + "\n" + changed[index][1]
            want_options = _any(raw, _TRIGGER_OPTIONS)
            want_env = _any(raw, _TRIGGER_ENV)
            want_exit = _any(raw, _TRIGGER_EXIT)
            if not (want_options or want_env or want_exit):
                continue
            needles = (_TRIGGER_OPTIONS if want_options else ()) + (_TRIGGER_ENV if want_env else ()) + \
                (_TRIGGER_EXIT if want_exit else ())
            exits_old: list[tuple[str, int, str]] = []
            exits_new: list[tuple[str, int, str]] = []
            consts_old: dict[str, tuple[str, int, str]] = {}
            consts_new: dict[str, tuple[str, int, str]] = {}
            for mark, number, text in _lines_with(hunk, needles):
                if mark == " ":
                    continue
                if want_options:
                    recent = _lines_before(mark + text, hunk.text) if "Name:" in text else ()
                    for flag, rest in _option_names(text, language, recent):
                        if mark == "-":
                            removed_opts.append((patch, flag, number, text, rest, index))
                        else:
                            added_opts.setdefault(flag, []).append((patch.path, rest, index))
                if want_env:
                    for name in _env_names(text):
                        if mark == "-":
                            removed_env.append((patch, language, name, number, text))
                        else:
                            added_env.add(name)
                if want_exit and ("xit" in text or "STATUS" in text or "Status" in text):
                    for m in _EXIT.finditer(text):
                        code = m.group("a") or m.group("b") or m.group("c")
                        (exits_old if mark == "-" else exits_new).append((code, number, text))
                    for m in _EXIT_CONST.finditer(text):
                        (consts_old if mark == "-" else consts_new)[m.group("name")] = (m.group("value"), number, text)
            if exits_old and exits_new and len(exits_old) == len(exits_new):
                for (old_code, _, _), (new_code, number, text) in zip(exits_old, exits_new):
                    if old_code != new_code:
                        out.append(Signal("exit_code_changed", "exit", patch.path, number, _short(text),
                                          f"{old_code} -> {new_code}", language))
            for name, (value, number, text) in consts_new.items():
                if name in consts_old and consts_old[name][0] != value:
                    out.append(Signal("exit_code_changed", name, patch.path, number, _short(text),
                                      f"{consts_old[name][0]} -> {value}", language))
        sides = _defaults(patch, hunks, language, changed)
        for key, (value, number, text) in sides["+"].items():
            old = sides["-"].get(key)
            if old is not None and old[0] != value:
                scope, name = key
                label = f"{scope}({name})" if scope else name
                out.append(Signal("default_changed", label, patch.path, number, _short(text), f"{old[0]} -> {value}",
                                  language))
        out.extend(_deprecations(patch, hunks, language, removed_blob, changed))

    blobs = {lang: "\n".join(lines) for lang, lines in added_blob.items()}
    file_blobs: dict[str, str] = {}
    for patch, _ in source_files:
        file_blobs[patch.path] = file_blobs.get(patch.path, "") + "\n" + added_text[id(patch)]
    used_added: set[int] = set()
    for patch, language, d in removed_defs:
        if (language, d.name) in added_defs:
            continue  # still defined (moved, or its signature changed)
        if _has_word(file_blobs.get(patch.path, ""), d.name):
            rename = None
        else:
            rename = _rename_partner(patch, language, d, added_defs, used_added, {r[2].name for r in removed_defs})
            if rename is None:
                out.append(Signal("api_removed", d.qualified, patch.path, d.line, d.text,
                                  f"public {d.kind} removed", language))
                continue
        if rename is not None:
            used_added.add(id(rename))
            out.append(Signal("api_renamed", d.qualified, patch.path, d.line, d.text, f"renamed to {rename.name}",
                              language))
    seen_opts: set[tuple[str, str]] = set()
    by_line: dict[tuple[str, int], list[tuple[FilePatch, str, int, str, str, int]]] = {}
    for item in removed_opts:
        by_line.setdefault((item[0].path, item[2]), []).append(item)
    for items in by_line.values():  # one signal per definition line: "-p, --port" is one option
        flags = [item[1] for item in items]
        if any(flag in added_opts for flag in flags):
            continue
        flag = _longest(flags)
        patch, _, number, text, rest, index = next(item for item in items if item[1] == flag)
        if (patch.path, flag) in seen_opts:
            continue
        seen_opts.add((patch.path, flag))
        others = [f for f in flags if f != flag]
        partner = None
        for other, defs in added_opts.items():
            for path, other_rest, other_index in defs:
                if path == patch.path and other_index == index and _norm_tail(other_rest) == _norm_tail(rest):
                    partner = other
        if partner:
            out.append(Signal("option_renamed", flag, patch.path, number, _short(text), f"renamed to {partner}",
                              language_of(patch.path)))
        else:
            detail = "option removed" + (f" (also {', '.join(others)})" if others else "")
            out.append(Signal("option_removed", flag, patch.path, number, _short(text), detail,
                              language_of(patch.path)))
    seen_env: set[str] = set()
    for patch, language, name, number, text in removed_env:
        if name in added_env or name in seen_env or name in blobs.get(language, ""):
            continue
        seen_env.add(name)
        out.append(Signal("env_removed", name, patch.path, number, _short(text), "no longer read", language))
    code_names = {s.name.lstrip("-") for s in out if s.kind in ("option_removed", "env_removed")}
    for s in doc_signals:
        if s.name.lstrip("-") not in code_names and s.name not in added_env:
            out.append(s)
    return tuple(out)


def _has_word(text: str, word: str) -> bool:
    """``word`` occurs in ``text`` as a whole identifier (no regular expression: names are many and varied)."""
    at = text.find(word)
    while at != -1:
        before = text[at - 1] if at else " "
        end = at + len(word)
        after = text[end] if end < len(text) else " "
        if not (before.isalnum() or before in "_$") and not (after.isalnum() or after in "_$"):
            return True
        at = text.find(word, at + 1)
    return False


def _rename_partner(patch: FilePatch, language: str, d: _Def, added_defs, used: set[int],
                    removed_names: set[str]) -> _Def | None:
    for (lang, name), defs in added_defs.items():
        if lang != language or name in removed_names:
            continue
        for other_patch, other in defs:
            if id(other) in used or other_patch.path != patch.path or other.hunk != d.hunk or other.kind != d.kind:
                continue
            if other.tail and other.tail == d.tail:
                return other
    return None


# ------------------------------------------------------------------------------------- text

_ADVISORY_LINK = re.compile(r"/security/advisories/(?P<id>GHSA-[\w-]+)|/advisories/(?P<id2>GHSA-[\w-]+)", re.I)
_FORK_MERGE = re.compile(r"^Merge commit from fork\b")
_WEAK_SECURITY = re.compile(
    r"\b(?:vulnerab\w*|XSS|CSRF|SSRF|XXE|RCE|remote code execution|path traversal|directory traversal|"
    r"(?:sql|command|shell|header|code|template|prototype) injection|prototype pollution|"
    r"security (?:fix|issue|bug|problem|hardening|patch|release|vulnerability)|denial of service|\bDoS\b|"
    r"token leak\w*|leak(?:s|ed|ing)? (?:of )?(?:tokens?|credentials?|secrets?|passwords?)|privilege escalation|"
    r"open redirect|timing attack|insecure)\b", re.I)


_WEAK_HINTS = ("vulnerab", "xss", "csrf", "ssrf", "xxe", "rce", "remote code", "traversal", "injection",
               "pollution", "security", "denial", "dos", "leak", "privilege", "redirect", "timing", "insecure")


def text_signals(subject: str, body: str = "", entries: Iterable[object] = (), notes: str = "") -> tuple[Signal, ...]:
    """Security markers in a commit's message, its changelog entries (``ChangelogEntry``) and tag notes.

    Strong: GHSA/CVE ids, advisory links, "Merge commit from fork" (GitHub's merge of a private security fork),
    an entry of kind security. Weak: words such as "vulnerability", "XSS", "path traversal".
    """
    out: list[Signal] = []
    seen: set[str] = set()

    def add(name: str, where: str, text: str, detail: str, strength: str) -> None:
        key = f"{name}|{where}"
        if key in seen:
            return
        seen.add(key)
        out.append(Signal("security", name, "", 0, _short(text), detail, None, where, strength))

    if _FORK_MERGE.match(subject or ""):
        add("Merge commit from fork", "subject", subject, "merged from a private fork (GitHub security fix)", "strong")
    for where, text in (("subject", subject or ""), ("body", body or ""), ("tag", notes or "")):
        if not text:
            continue
        lower = text.lower()
        if "ghsa" not in lower and "cve" not in lower and "advisor" not in lower and \
                not _any(lower, _WEAK_HINTS):
            continue  # nothing to look for (the common case): skip the regular expressions
        for ref in find_refs(text):
            if ref.startswith(("GHSA-", "CVE-")):
                add(ref, where, _around(text, ref), "security advisory", "strong")
        for m in _ADVISORY_LINK.finditer(text):
            ident = (m.group("id") or m.group("id2")).upper().replace("GHSA-", "GHSA-", 1)
            add("GHSA-" + ident[5:].lower(), where, _around(text, m.group(0)), "security advisory link", "strong")
        for m in _WEAK_SECURITY.finditer(text):
            add(m.group(0).lower(), where, _around(text, m.group(0)), "security wording", "weak")
    for entry in entries:
        refs = getattr(entry, "refs", ())
        text = getattr(entry, "text", "")
        for ref in refs:
            if ref.startswith(("GHSA-", "CVE-")):
                add(ref, "changelog", text, "security advisory", "strong")
        if getattr(entry, "kind", None) == "security":
            add("security entry", "changelog", text, "changelog entry marked security", "strong")
        elif _WEAK_SECURITY.search(text):
            add(_WEAK_SECURITY.search(text).group(0).lower(), "changelog", text, "security wording", "weak")
    return tuple(out)


def _around(text: str, needle: str, width: int = 80) -> str:
    at = text.find(needle)
    if at < 0:
        return text[:width * 2]
    start = text.rfind("\n", 0, at) + 1
    end = text.find("\n", at)
    line = text[start:end if end != -1 else len(text)]
    return line if len(line) <= width * 2 else text[max(0, at - width):at + len(needle) + width]
