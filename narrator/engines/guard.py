"""The faithfulness guard: decides whether a model's sentence may be shown to a reader.

A generated narration is rejected when it is empty, degenerately repetitive, an echo of the prompt, not
English, names something (a file, function, identifier, version or number) that appears nowhere in the
material the model was given (the commit's message and its diff), or claims a change the diff does not
show: a verb of change (add, remove, fix, rename, deprecate) needs its evidence ("Removed the orders
endpoint." is rejected for a commit whose diff only adds it), and "a new property (function, class)" needs a
definition that the diff adds and does not also remove (a property moved within a file is not new); a
sentence may not state what the message negates ("doesn't support the buffer API" -> "now supports"). A
rejected narration is replaced by the heuristic sentence and counted as a fallback, so the report never shows
an invented name. ``plain_text`` removes code markup (backticks, reST roles such as ``:class:`~a.B```,
Markdown links and emphasis) before a sentence reaches a report. The checks are deliberately simple and
conservative: a false rejection costs a plainer sentence, a false acceptance costs the reader's trust.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Iterable, Sequence

from narrator.prompts import (
    COMBINE_INSTRUCTION,
    COMMIT_INSTRUCTION,
    FUNCTION_INSTRUCTION,
    NARRATION_INSTRUCTION,
    SYSTEM_PROMPT,
)

GUARD_VERSION = "7"  # 7: "a new property/function/class" needs one the diff defines, no reversed negations; 6: non-ASCII words copied from the material are no foreign language; 5: verbs of change  # part of engine fingerprints: a stricter guard changes what reaches the report

# Short technical words a plain-English sentence may use without them being in the commit.
_ALLOWED_TERMS = {
    "api", "apis", "url", "urls", "ui", "ux", "cli", "html", "css", "json", "yaml", "xml", "csv", "sql", "http",
    "https", "ci", "cd", "ide", "id", "ids", "io", "os", "pdf", "ok", "faq", "readme", "sdk", "gpu", "cpu", "ram",
    "dns", "ssl", "tls", "ssh", "jwt", "oauth", "utf", "ascii", "todo", "mvp", "qa", "tv", "usb", "pr", "prs",
    "javascript", "typescript", "python", "github", "gitlab", "macos", "ios", "linux", "windows", "docker",
    "postgresql", "mysql", "sqlite", "graphql", "webassembly", "npm", "pypi", "aws", "gcp", "ai", "ml", "llm",
    "ascii", "unicode", "utf-8", "ipv4", "ipv6", "tcp", "udp", "2fa", "mfa", "e.g", "i.e", "etc", "vs",
}
_NUMBER_WORDS_OK = {"1", "2", "3", "one", "two", "three"}  # small counts read naturally ("one file", "two tests")

_ENGLISH_WORDS = {
    "the", "a", "an", "to", "of", "and", "in", "for", "this", "that", "is", "it", "with", "on", "by", "as", "are",
    "be", "was", "from", "or", "so", "now", "adds", "added", "fixes", "fixed", "updates", "updated", "removes",
    "removed", "changes", "changed", "makes", "new", "when", "which", "into", "can", "will", "its", "their",
    "no", "not", "more", "less", "how", "what", "about", "also", "users", "code", "file", "files", "function",
    "test", "tests", "support", "improves", "improved", "has", "have", "using", "use", "uses", "at", "all",
    "but", "if", "than", "other", "each", "any", "some", "instead", "without", "after", "before", "only",
    "creates", "created", "returns", "handles", "allows", "introduces", "cleans", "moves", "renames",
    "renamed", "moved", "made", "now", "they", "them", "these", "those", "there", "then", "been", "were",
    "does", "do", "did", "should", "would", "could", "may", "might", "must", "out", "up", "down", "over",
    "under", "between", "through", "during", "while", "because", "since", "until", "who", "whose", "where",
    "why", "one", "two", "every", "most", "many", "much", "few", "same", "different", "better", "faster",
    "easier", "clearer", "safer", "simpler", "again", "already", "still", "just", "also", "too", "very",
    "longer", "page", "pages", "data", "users", "user", "customers", "people", "team", "app", "application",
    "project", "feature", "features", "bug", "bugs", "error", "errors", "helper", "setting", "settings",
    "documentation", "tested", "improved", "reorganised", "reorganized", "simplified", "corrected",
    # commit-subject verbs: a terse imperative ("Add refund function to refund.py") is English too
    "add", "fix", "remove", "update", "change", "make", "move", "rename", "refactor", "improve", "allow",
    "create", "delete", "handle", "implement", "bump", "document", "clean", "replace", "drop", "avoid",
    "ensure", "set", "show", "hide", "return", "check", "validate", "prevent", "enable", "disable", "merge",
    "revert", "support", "introduce", "extract", "simplify", "speed", "reduce", "increase", "limit", "split",
    "convert", "skip", "ignore", "include", "exclude", "docstring", "comment", "comments", "test",
}
# Words that make a terse technical sentence read as English ("Constructs the Oracle PDO DSN.", "Issues a
# findOneAndUpdate command."), used only by the English check: they still count as specific words.
_SUMMARY_WORDS = {
    "construct", "clear", "invoke", "issue", "get", "build", "parse", "read", "write", "send", "load", "save",
    "store", "register", "generate", "compute", "calculate", "run", "start", "stop", "open", "close", "reset",
    "apply", "append", "find", "look", "wrap", "initialize", "initialise", "determine", "decide", "tell",
    "describe", "define", "declare", "list", "map", "split", "join", "match", "compare", "count", "execute",
    "perform", "fetch", "retrieve", "prepare", "process", "emit", "trigger", "dispatch", "log", "print",
    "display", "configure", "call", "called", "contain", "provide", "represent", "resolve", "render",
    "format", "value", "values", "object", "objects", "string", "strings", "list", "name", "names", "type",
    "types", "given", "including", "called", "command", "request", "response", "server", "client", "method",
    "class", "instance", "option", "options", "result", "results", "key", "keys", "path", "paths", "column",
    "table", "database", "query", "message", "messages", "event", "events", "handler", "handlers", "when",
    "whether", "true", "false", "null", "empty", "default", "current", "specified", "dependencies", "every",
    "all", "activated", "attribute", "attributes", "statement", "statements", "via", "per", "into", "onto",
    "now", "longer", "again", "even", "despite", "still", "so", "order", "called",
}


def _is_common(word: str) -> bool:
    """An everyday English word or technical term, also in its -s / -es / -ed / -ing forms."""
    vocabulary = _ENGLISH_WORDS | _SUMMARY_WORDS
    if word in vocabulary or word in _ALLOWED_TERMS:
        return True
    for suffix, stems in (("ies", ("y",)), ("es", ("", "e")), ("s", ("",)), ("ed", ("", "e")), ("ing", ("", "e")),
                          ("d", ("",))):
        if word.endswith(suffix) and len(word) > len(suffix) + 2:
            root = word[: -len(suffix)]
            if any(root + stem in vocabulary for stem in stems):
                return True
    return False

_ECHO_MARKERS = ("```", "diff --git", "@@ ", "### instruction", "### response", "### system", "<|im_start|>",
                 "<|im_end|>", "<|endoftext|>", "<｜", "[inst]", "file: ", "also changed (content not shown)")

# Talk about the task instead of the change ("This sentence describes...", "As an AI...").
_META = re.compile(
    r"(?i)\b(?:this|these|the following|the above|each|one|a single|the) sentences?\b|\bcombines? (?:them|these|the)\b"
    r"|\bas an ai\b|\bi (?:cannot|can't|am unable|don't have)\b|\blanguage model\b|\bthe (?:diff|prompt|instruction)s?\b"
)
_WORD = re.compile(r"[A-Za-z][A-Za-z'-]*")
_NUMBER = re.compile(r"(?<![\w.])\d[\d,._]*(?:\.\d+)*%?")
_FILE_NAME = re.compile(r"(?<![\w/])(?:[\w.-]+/)*[\w-]+\.[A-Za-z][A-Za-z0-9]{0,6}\b")
_PATH = re.compile(r"(?<![\w])(?:[\w.-]+/)+[\w.-]+")
_BACKTICKED = re.compile(r"`([^`]{1,80})`")
_CALL = re.compile(r"\b([A-Za-z_][\w.]*)\(\)?")
_SNAKE = re.compile(r"\b[A-Za-z0-9]+(?:_[A-Za-z0-9]+)+\b|\b_[A-Za-z]\w*\b")
_CAMEL = re.compile(r"\b[a-z]+[A-Z]\w*\b|\b[A-Z][a-z0-9]+[A-Z]\w*\b")
_DOTTED = re.compile(r"\b[A-Za-z_]\w*\.[a-z_]\w*(?:\.\w+)*\b")
_MIXED = re.compile(r"\b[A-Za-z]+\d+[A-Za-z0-9]*\b")  # Res6, utf8, v2beta
_ALLCAPS = re.compile(r"\b[A-Z][A-Z0-9]{1,}(?:_[A-Z0-9]+)*\b")


@dataclass(frozen=True)
class Verdict:
    """The guard's answer: ``ok`` or the reason for rejecting."""

    ok: bool
    reason: str | None = None

    def __bool__(self) -> bool:
        return self.ok


ACCEPT = Verdict(True)


def _reject(reason: str) -> Verdict:
    return Verdict(False, reason)


class Context:
    """The material a narration may draw names from, lower-cased, with a fast membership test."""

    def __init__(self, texts: Iterable[str], message: str = "", files: Sequence[Any] = ()) -> None:
        self.text = "\n".join(t for t in texts if t).lower()
        self._tokens = set(re.findall(r"[a-z0-9_]+", self.text))
        self.evidence = ChangeEvidence.of(message, files) if (message or files) else None

    def mentions(self, name: str) -> bool:
        name = name.lower().strip(".,;:!?'\"()[]{}")
        if not name:
            return True
        if name in self._tokens or name in self.text:
            return True
        # `foo.bar()` or `a/b/c.py`: accept when every part is known (a path may be shortened to its base name).
        parts = [p for p in re.split(r"[./:()\-]+", name) if p]
        return bool(parts) and all(p in self._tokens or p in self.text for p in parts)


def _is_repetitive(text: str) -> bool:
    if re.search(r"(.)\1{9,}", text):
        return True
    words = [w.lower() for w in re.findall(r"\w+", text)]
    if len(words) >= 12 and len(set(words)) / len(words) < 0.35:
        return True
    grams: dict[tuple[str, ...], int] = {}
    for i in range(len(words) - 2):
        key = tuple(words[i:i + 3])
        grams[key] = grams.get(key, 0) + 1
        if grams[key] >= 3:
            return True
    # the same file named twice ("Add README.md to README.md") says nothing: a loop, not a description
    files = [f.lower() for f in _FILE_NAME.findall(text)]
    if len(files) != len(set(files)):
        return True
    # "the get_json() and get_json() methods": one name joined to itself (the material named two)
    if re.search(r"(?<![\w.])([\w.]+(?:\(\))?)\s*(?:,|and|or|,\s*and)\s+\1(?![\w(])", text, re.I):
        return True
    # the same four words twice in one short answer ("adds the x.yaml file to the x.yaml file") is a loop
    fours = [tuple(words[i:i + 4]) for i in range(len(words) - 3)]
    if len(fours) != len(set(fours)):
        return True
    sentences = [s.strip().lower() for s in re.split(r"[.!?]\s+", text) if s.strip()]
    return len(sentences) > 1 and len(set(sentences)) < len(sentences)


_INSTRUCTIONS = [SYSTEM_PROMPT, COMMIT_INSTRUCTION, COMBINE_INSTRUCTION, NARRATION_INSTRUCTION,
                 FUNCTION_INSTRUCTION.replace("{language} ", "")]


def _is_echo(text: str, prompt: str) -> bool:
    lower = text.lower()
    if any(marker in lower for marker in _ECHO_MARKERS) or _META.search(text):
        return True
    if re.search(r"(?m)^\s*[+-]\s*\S", text) and re.search(r"(?m)^\s*[+-].*[;{}=]", text):
        return True
    words = re.findall(r"\w+", lower)
    for instruction in _INSTRUCTIONS:
        iw = re.findall(r"\w+", instruction.lower())
        for i in range(len(iw) - 5):
            if " ".join(iw[i:i + 6]) in " ".join(words):
                return True
    if prompt and len(words) >= 10:
        # a long run copied verbatim from the diff is code, not an explanation
        prompt_words = " " + " ".join(re.findall(r"\w+", prompt.lower())) + " "
        for i in range(len(words) - 9):
            if " " + " ".join(words[i:i + 10]) + " " in prompt_words:
                return True
    return False


def _own_words(text: str, context: "Context | None") -> str:
    """``text`` without the non-ASCII words it copies from the material (a name with an accent, a string from the
    code): those are the commit's words, not a sign of a foreign language."""
    if context is None:
        return text
    return " ".join(w for w in text.split() if w.isascii() or not context.mentions(w))


def _is_english(text: str, context: "Context | None" = None) -> bool:
    if any((not c.isprintable()) or c == "\ufffd" for c in text):
        return False  # control characters or undecodable bytes: garbled output
    letters = [c for c in _own_words(text, context) if c.isalpha()]
    if not letters:
        return False
    ascii_letters = sum(1 for c in letters if c.isascii())
    if ascii_letters / len(letters) < 0.95:
        return False
    words = [w.lower() for w in _WORD.findall(text)]
    if len(words) < 3:
        return False
    common = sum(1 for w in words if _is_common(w))
    return common >= min(2, len(words) - 2) and common / len(words) >= 0.1


def unknown_names(text: str, context: Context) -> list[str]:
    """Names in ``text`` (files, paths, identifiers, versions, numbers) that ``context`` never mentions."""
    found: list[str] = []
    candidates: list[str] = []
    candidates += _BACKTICKED.findall(text)
    candidates += _PATH.findall(text)
    candidates += _FILE_NAME.findall(text)
    candidates += [m for m in _CALL.findall(text) if text.find(m + "(") >= 0]
    candidates += _SNAKE.findall(text)
    candidates += _CAMEL.findall(text)
    candidates += _DOTTED.findall(text)
    candidates += _MIXED.findall(text)
    candidates += [w for w in _ALLCAPS.findall(text) if w.lower() not in _ALLOWED_TERMS]
    for name in candidates:
        clean = name.strip().strip(".,;:!?'\"")
        if not clean or clean.lower() in _ALLOWED_TERMS:
            continue
        if re.fullmatch(r"(?:e\.g|i\.e|etc)\.?", clean, re.I):
            continue
        if not context.mentions(clean) and clean not in found:
            found.append(clean)
    for number in _NUMBER.findall(text):
        clean = number.rstrip(".,%")
        if clean in _NUMBER_WORDS_OK or not clean:
            continue
        if clean not in context.text and clean.replace(",", "") not in context.text and clean not in found:
            found.append(clean)
    return found


# Words too generic to show that a sentence is about this particular change.
_GENERIC = {
    "change", "changes", "changed", "modification", "modifications", "modified", "function", "functions",
    "code", "file", "files", "project", "projects", "work", "example", "feature", "features", "update",
    "updates", "updated", "commit", "commits", "software", "system", "application", "program", "process",
    "improvement", "improvements", "version", "thing", "things",
    "make", "makes", "making", "help", "helps", "allow", "allows", "ensure", "ensures", "important",
    "significant", "impact", "success", "simple", "efficient", "better", "great", "good", "small", "large",
    "common", "specific", "concept", "task", "tasks", "purpose", "used", "using", "able", "also", "which",
    "their", "there", "these", "those", "other", "about", "would", "could", "should", "being", "within",
}


def grounded_words(text: str, context: Context) -> set[str]:
    """Specific words of ``text`` (not generic English) whose stem appears in ``context``."""
    stems = {t[:5] for t in context._tokens if len(t) >= 4}
    found = set()
    for word in re.findall(r"[a-z]{4,}", text.lower()):
        if word in _GENERIC or word in _ENGLISH_WORDS:
            continue
        if word[:5] in stems:
            found.add(word[:5])
    return found


def check(text: str, context: Context, prompt: str = "", min_grounded: int = 1) -> Verdict:
    """Accept ``text`` only if it is a real, English, non-echoing sentence naming nothing outside ``context``
    and saying something specific to it (at least ``min_grounded`` of its specific words come from it)."""
    stripped = (text or "").strip()
    letters = [c for c in _own_words(stripped, context) if c.isalpha()]
    if letters and sum(1 for c in letters if c.isascii()) / len(letters) < 0.95:
        return _reject("not English")
    if len(re.findall(r"\w+", stripped)) < 3:
        return _reject("empty output" if not stripped else "output too short")
    if _is_repetitive(stripped):
        return _reject("degenerate repetition")
    if _is_echo(stripped, prompt):
        return _reject("prompt echo")
    if any((not c.isprintable()) or c == "\ufffd" for c in stripped):
        return _reject("not English (garbled characters)")
    unknown = unknown_names(stripped, context)
    if unknown:
        return _reject("names not in the commit: " + ", ".join(unknown[:5]))
    if not _is_english(stripped, context):
        return _reject("not English")
    if len(grounded_words(stripped, context)) < min_grounded:
        return _reject("says nothing specific to the change")
    if context.evidence is not None:
        claim = unsupported_claim(stripped, context.evidence)
        if claim:
            return _reject(claim)
    return ACCEPT


_REST_ROLE = re.compile(r":(?:[\w.-]+:)*[\w.-]+:`(?:([^`<]*?)\s*<([^`>]*)>|~?\.?([^`]*))`")
_REFERENCE_ROLE = re.compile(r"\s*\(\s*(?::(?:pr|issue|ghsa|user|cve|bpo|gh|commit):`[^`]*`[\s,]*)+\)"
                             r"|\s*:(?:pr|issue|ghsa|user|cve|bpo|gh|commit):`[^`]*`")
_MD_LINK = re.compile(r"\[([^\]]+)\]\([^)\s]+\)")
_EMPHASIS = re.compile(r"(?<![\w*])(\*\*|\*|__)(?=\S)(.+?)(?<=\S)\1(?![\w*])")


def _role(match: re.Match) -> str:
    label, _target, name = match.group(1), match.group(2), match.group(3)
    if label:
        return label.strip()
    name = (name or "").strip()
    if match.group(0).split("`", 1)[1].startswith("~"):  # :func:`~a.b.c` shows c
        name = name.rsplit(".", 1)[-1]
    return name


def plain_text(text: str) -> str:
    """Report text for readers: code markup removed (names stay), as the last step after the guard.

    Backticks, reST roles (``:class:`~flask.Flask``` -> ``Flask``; ``:pr:`123``` references dropped), Markdown
    links (their text stays) and emphasis markers.
    """
    text = _REFERENCE_ROLE.sub("", text)
    text = _REST_ROLE.sub(_role, text)
    text = _MD_LINK.sub(r"\1", text)
    text = re.sub(r"`+([^`]*)`+", r"\1", text).replace("`", "")
    text = _EMPHASIS.sub(r"\2", text)
    return " ".join(text.split())


# Where a model's answer is cut (``clean_output``) and where generation may stop (``hf_stop``): a paragraph
# break, then a sentence end followed by a capital letter.
PARAGRAPH_BREAK = re.compile(r"\n\s*\n")
SENTENCE_BREAK = re.compile(r"(?<=[.!?])\s+(?=[A-Z])")


def clean_output(text: str, max_sentences: int = 1) -> str:
    """A model's raw answer as report text: first paragraph, one line, whole sentences, no wrapping quotes."""
    text = (text or "").strip()
    text = PARAGRAPH_BREAK.split(text, maxsplit=1)[0]
    text = " ".join(text.split())
    for prefix in ("Answer:", "Response:", "Summary:", "Explanation:", "Sentence:"):
        if text.lower().startswith(prefix.lower()):
            text = text[len(prefix):].strip()
    if len(text) >= 2 and text[0] in "\"'“" and text[-1] in "\"'”":
        text = text[1:-1].strip()
    sentences = SENTENCE_BREAK.split(text)
    if len(sentences) > max_sentences:
        text = " ".join(sentences[:max_sentences])
    if text and text[-1] not in ".!?":
        # cut mid-sentence by the token limit: keep the last whole sentence when there is one
        last = max(text.rfind(". "), text.rfind("! "), text.rfind("? "))
        text = text[: last + 1] if last > 0 else text + "."
    return text


# -- verbs of change ------------------------------------------------------------------------------------

_CLAIMS = {
    "add": re.compile(r"\b(?:add|adds|added|adding|introduc(?:e|es|ed|ing)|creat(?:e|es|ed|ing))\b", re.I),
    "remove": re.compile(r"\b(?:remov(?:e|es|ed|ing)|delet(?:e|es|ed|ing)|drop(?:s|ped|ping)?|no longer)\b", re.I),
    "fix": re.compile(r"\b(?:fix|fixes|fixed|fixing)\b", re.I),
    "rename": re.compile(r"\b(?:renam(?:e|es|ed|ing))\b", re.I),
    "deprecate": re.compile(r"\b(?:deprecat(?:e|es|ed|ing))\b", re.I),
}
# words in the commit's own message that back a claim
_MESSAGE_SUPPORT = {
    "add": re.compile(r"\b(?:feat|add|introduc|creat|new|support|implement|allow|enabl|expos|provid|start|initial)", re.I),
    "remove": re.compile(r"\b(?:remov|delet|drop|no longer|get rid|clean|strip|deprecat|replac|revert|unused)", re.I),
    "fix": re.compile(r"\b(?:fix|bug|issue|error|crash|regress|broke|wrong|incorrect|correct|typo|fail|problem|"
                      r"resolv|repair|patch|prevent|avoid|handl|leak|hang|race)", re.I),
    "rename": re.compile(r"\b(?:renam|move|moving)", re.I),
    "deprecate": re.compile(r"\bdeprecat", re.I),
}
_OBJECT_STOP = re.compile(r"\b(?:to|in|for|from|so|when|that|which|and|with|by|on|at|of|as|if|because|while)\b", re.I)


@dataclass(frozen=True)
class ChangeEvidence:
    """What a commit's diff adds and removes, and its own message: the evidence for verbs of change."""

    message: str
    added: str
    removed: str
    added_paths: tuple[str, ...]
    removed_paths: tuple[str, ...]
    renamed: bool

    @classmethod
    def of(cls, message: str, files: Sequence[Any]) -> "ChangeEvidence":
        added: list[str] = []
        removed: list[str] = []
        new_paths, gone_paths = [], []
        renamed = False
        for f in files:
            change = getattr(f, "change_type", "modified")
            if change == "added":
                new_paths.append(f.path)
            elif change == "deleted":
                gone_paths.append(f.path)
            elif change == "renamed":
                renamed = True
            for line in (getattr(f, "diff", "") or "").splitlines():
                if line.startswith("+") and not line.startswith("+++"):
                    added.append(line[1:])
                elif line.startswith("-") and not line.startswith("---"):
                    removed.append(line[1:])
        return cls(message.lower(), "\n".join(added).lower(), "\n".join(removed).lower(), tuple(new_paths),
                   tuple(gone_paths), renamed)


def _object_words(text: str, verb_end: int) -> list[str]:
    """The specific words of the phrase after a verb ("removed the orders endpoint from the API" -> orders,
    endpoint): up to the next preposition or punctuation, generic English left out."""
    tail = re.split(r"[.,;:!?()]", text[verb_end:], maxsplit=1)[0]
    tail = _OBJECT_STOP.split(tail, maxsplit=1)[0]
    words = [w.lower() for w in re.findall(r"[A-Za-z_][\w]*", tail)][:6]
    return [w for w in words if len(w) >= 3 and w not in _GENERIC and w not in _ENGLISH_WORDS
            and w not in {"support", "ability", "option", "way", "check", "new", "old", "some", "unused"}]


def _in_text(word: str, text: str) -> bool:
    stem = word[:5] if len(word) > 5 else word
    return stem in text


# "a new property / function / class": the diff must define one that it does not also remove (a definition moved
# or rewritten in place is not new). Each kind's definition markers, and the names they define where they have one.
_NEW_THING = re.compile(r"\bnew\s+(propert(?:y|ies)|methods?|functions?|class(?:es)?|types?)\b", re.I)
_DEFINES = {
    "property": re.compile(r"@(?:\w+\.)*(?:cached_)?property\b()|\bget\s+(\w+)\s*\(\s*\)\s*\{|\{\s*get\s*;()"),
    "function": re.compile(r"\b(?:def|func|fn|function|sub)\s+(?:\([^)]*\)\s*)?(\w+)"
                           r"|\b(?:public|private|protected|internal)\s+(?:static\s+)?[\w<>\[\],?]+\s+(\w+)\s*\("),
    "class": re.compile(r"\b(?:class|struct|interface|trait|enum|record)\s+(\w+)"),
}
_THING_KIND = {"propert": "property", "method": "function", "functi": "function", "class": "class", "type": "class"}


def _definitions(kind: str, text: str) -> list[str]:
    """The names ``text`` defines of this kind (an empty name where the marker names nothing, as ``@property``)."""
    return [next((g for g in m.groups() if g), "") for m in _DEFINES[kind].finditer(text)]


def _adds_new(kind: str, evidence: "ChangeEvidence") -> bool:
    added, removed = _definitions(kind, evidence.added), _definitions(kind, evidence.removed)
    if kind == "property":  # a decorator names nothing: compare the counts
        return len(added) > len(removed)
    return bool(set(added) - set(removed))


# "Type str doesn't support the buffer API" in the message became "Python 3.4.2 now supports the buffer API.":
# a verb the commit's message or added lines negate, stated by the sentence without a negation, about the same thing.
_NEGATED = re.compile(r"\b(?:doesn't|does not|don't|do not|didn't|did not|isn't|is not|aren't|are not|can't|"
                      r"cannot|can not|won't|will not|wouldn't|never|no longer)\s+([a-z]{3,})((?:\s+[\w.-]+){1,4})")
_NEGATION_BEFORE = re.compile(r"(?:n't|\bnot|\bnever|\bno longer|\bcannot|\bwithout|\bno)\s+(?:\w+\s+){0,2}$")


def reversed_statement(text: str, evidence: ChangeEvidence) -> bool:
    """True when ``text`` states without a negation what the message (or a line the diff adds) negates: the same
    verb followed by one of the same specific words within four words."""
    lower = text.lower()
    for source in (evidence.message, evidence.added):
        for m in _NEGATED.finditer(source):
            verb = m.group(1)
            objects = {w for w in re.findall(r"[a-z][a-z0-9_]{2,}", m.group(2))
                       if w not in _GENERIC and w not in _ENGLISH_WORDS}
            if not objects or verb in ("have", "need", "use"):
                continue
            for said in re.finditer(rf"\b{re.escape(verb[:5])}\w*((?:\s+[\w.-]+){{1,4}})", lower):
                if objects & set(re.findall(r"[a-z][a-z0-9_]{2,}", said.group(1))) \
                        and not _NEGATION_BEFORE.search(lower[:said.start()]):
                    return True
    return False


def unsupported_claim(text: str, evidence: ChangeEvidence) -> str | None:
    """Why a sentence's verb of change is not backed by the diff or the message (None when every one is)."""
    if reversed_statement(text, evidence):
        return "says the opposite of the commit"
    for match in _NEW_THING.finditer(text):
        word = match.group(1).lower()
        kind = next(k for prefix, k in _THING_KIND.items() if word.startswith(prefix))
        if re.search(rf"\bnew\s+{word[:5]}", evidence.message) or _adds_new(kind, evidence):
            continue
        return f"claims a new {kind} the diff does not define"
    for kind, pattern in _CLAIMS.items():
        for match in pattern.finditer(text):
            if _MESSAGE_SUPPORT[kind].search(evidence.message):
                continue  # the developer says so
            objects = _object_words(text, match.end())
            if kind in ("add", "remove"):
                side, other = ((evidence.added, evidence.added_paths), (evidence.removed, evidence.removed_paths))
                if kind == "remove":
                    side, other = other, side
                pool = side[0] + "\n" + "\n".join(side[1]).lower()
                other_pool = other[0] + "\n" + "\n".join(other[1]).lower()
                if not pool.strip():  # the diff adds (removes) nothing at all
                    return f"claims {'an addition' if kind == 'add' else 'a removal'} the diff does not show"
                if objects and not any(_in_text(w, pool) for w in objects) \
                        and any(_in_text(w, other_pool) for w in objects):  # the diff does the opposite
                    return f"claims {'an addition' if kind == 'add' else 'a removal'} the diff does not show"
                continue
            if kind == "rename":
                if evidence.renamed or (objects and any(_in_text(w, evidence.removed) for w in objects)):
                    continue
                return "claims a rename the diff does not show"
            if kind == "deprecate":
                if "deprecat" in evidence.added:
                    continue
                return "claims a deprecation the diff does not show"
            if kind == "fix":
                return "claims a fix the message does not mention"
    return None
