"""The words an identifier is made of, as a person would say them.

People ask about "orders" and "customers"; schemas say ``order_lines``, ``"OrderLine"``,
``orderline`` (camelCase folded by PostgreSQL) or ``xyordcustid`` (a short prefix on every
table and column). Linking, grounding and "did you mean" all need the same answer to "which
words does this name contain", so it is computed here once:

- declared boundaries first: underscores and other separators, camelCase humps, digits;
- a prefix or suffix that at least 60% of a group of names share (a schema's tables, one
  table's columns) is stripped, so ``xyordcustid`` is also read as ``ordcustid``;
- runs of letters with no boundary are segmented with a general English unigram model
  (the ``wordsegment`` package: word frequencies of a public web corpus, nothing from any
  benchmark): ``custname`` -> cust, name;
- every place a word may start is kept, so that a question word can match an abbreviation
  there (``order`` meets ``ord`` in ``xyordid``, ``customer`` meets ``cust``).
"""

from __future__ import annotations

import difflib
import re
import unicodedata
import threading
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache

# The share of a group of names that must carry a prefix or suffix for it to be a convention.
SHARED_AFFIX_SHARE = 0.6
MIN_AFFIX = 2
MAX_AFFIX = 8
# A run of letters this long or longer may be several words written together.
MIN_SEGMENTED = 5
# How much of a question word an abbreviation must spell out ("ord" of "order").
MIN_ABBREVIATION = 3

# Words as names declare them: camelCase humps, snake_case parts, digits (ASCII names, the
# fast path); runs of letters outside ASCII are split at the same boundaries by `_humps`.
_TOKEN = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|[0-9]+")
_RUN = re.compile(r"[^\W_]+")
# A whole name as a question may write it (`t42`, `q3_2024`): kept beside its words.
_WHOLE_NAME = re.compile(r"[^\W\d_][\w$]*")
_segmenter_lock = threading.Lock()
_segmenter_loaded = False


@dataclass(frozen=True)
class NameWords:
    """The words of one identifier and where, in its letters, words may start."""

    text: str  # the name lower-cased with separators removed: "xyordid"
    words: tuple[str, ...]  # "xy", "ordid", "or", "did", ... (two letters or more)
    starts: tuple[int, ...]  # offsets in ``text`` where a word may start: 0, 2, ...

    def abbreviates(self, word: str) -> bool:
        """Whether ``word`` (a question word) starts at a word start of this name, spelled out
        fully or abbreviated to at least MIN_ABBREVIATION letters that end where a word of the
        name ends: ``order`` in ``xyordid`` (``xy|ord|id``), not ``city`` in ``cite``, whose
        ``cit`` runs on into the same word."""
        if len(word) <= MIN_ABBREVIATION:
            return False
        ends = {*self.starts, len(self.text)}
        for start in self.starts:
            size = _common_prefix(word, self.text, start)
            if size == len(word) or any(start + n in ends for n in range(MIN_ABBREVIATION, size + 1)):
                return True
        return False


# Words with which names say "a point in time" (created_at, sent_epoch, whreadingts, shipped_on, date_key).
TIME_WORDS = frozenset("epoch unix at ts on time timestamp date datetime when created updated modified start started end ended".split())


def names_a_time(name: str) -> bool:
    """Does a column's name say it holds a point in time, whatever its type?"""
    return not TIME_WORDS.isdisjoint(name_words(name).words)


def declared_words(name: str) -> list[str]:
    """The words a name declares by its own boundaries: ``orderLines``, ``order_lines2``,
    ``CaféOrder``; folded as a question may spell them (`İLLER` and `iller`, `Straße` and
    `strasse`, `ΠΕΛΑΤΕΣ` and `πελάτες` are one word)."""
    words: list[str] = []
    name = name if name.isascii() else unicodedata.normalize("NFC", name)  # `i` + U+0308 is one letter, ï
    for run in _RUN.findall(name):
        words += [w.lower() for w in _TOKEN.findall(run)] if run.isascii() else [fold(w) for w in _humps(run)]
    return words


def _humps(run: str) -> list[str]:
    """A run of letters and digits split where `_TOKEN` splits an ASCII one: between letters
    and digits, before an upper-case letter after a lower-case one, and before the last of
    several upper-case letters that a lower-case one follows (XMLHttp: XML, Http)."""
    parts, start = [], 0
    for i in range(1, len(run)):
        before, here, after = run[i - 1], run[i], run[i + 1 : i + 2]
        if before.isdigit() != here.isdigit() or (before.islower() and here.isupper()) or (before.isupper() and here.isupper() and after.islower()):
            parts.append(run[start:i])
            start = i
    return [*parts, run[start:]]


def fold(word: str) -> str:
    """Case folded and without accents: how two spellings of one word compare."""
    return "".join(c for c in unicodedata.normalize("NFKD", word.casefold()) if not unicodedata.combining(c))


def text_words(text: str) -> list[str]:
    """A question's words: each declared word, and each whole name it writes that words
    would split (`t42`, `q3_2024`), which may be a table's whole name."""
    text = text if text.isascii() else unicodedata.normalize("NFC", text)
    whole = [fold(w) for w in _WHOLE_NAME.findall(text) if not w.isalpha()]
    return list(dict.fromkeys([*declared_words(text), *whole]))


def shared_affixes(names: Iterable[str]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Prefixes and suffixes that at least 60% of ``names`` (three at least) carry.

    Of nested candidates only those that more names share than any longer one are kept:
    with ``xyordid, xyorddate, xyordtotal, xycustname`` both ``xy`` (all four) and
    ``xyord`` (three) are conventions; ``xyo`` and ``xyor`` say nothing ``xyord`` does not.
    """
    texts = [_compact(n) for n in names]
    return _affixes(texts), tuple(s[::-1] for s in _affixes([t[::-1] for t in texts]))


def name_words(name: str, prefixes: Sequence[str] = (), suffixes: Sequence[str] = ()) -> NameWords:
    """The words of ``name``, reading it also without the shared ``prefixes``/``suffixes``."""
    return _name_words(name, tuple(prefixes), tuple(suffixes))


@lru_cache(maxsize=65536)
def _name_words(name: str, prefixes: tuple[str, ...], suffixes: tuple[str, ...]) -> NameWords:
    text = _compact(name)
    spans: list[tuple[int, str]] = []
    offset = 0
    for token in declared_words(name):
        spans.append((offset, token))
        offset += len(token)
    for prefix in prefixes:
        if text.startswith(prefix) and len(text) > len(prefix) + 1:
            spans.append((len(prefix), text[len(prefix) :]))
    for suffix in suffixes:
        if text.endswith(suffix) and len(text) > len(suffix) + 1:
            spans.append((0, text[: -len(suffix)]))
    found: dict[str, None] = {}
    starts: set[int] = set()
    for start, span in spans:
        found[span] = None
        starts.add(start)
        if _segmentable(span):
            for piece_start, piece in _segments(span):
                found[piece] = None
                starts.add(start + piece_start)
    words = tuple(w for w in found if len(w) > 1 and not w.isdigit())
    return NameWords(text, words, tuple(sorted(starts)))


def closest_name(
    wanted: str, names: Sequence[str], *, cutoff: float = 0.7, every_word: bool = False, prefixes: Sequence[str] = ()
) -> str | None:
    """The name a person most likely meant by ``wanted``: one spelled almost the same, else the
    one that holds most of its words, abbreviated or not (``customer_name`` -> ``xycustname``);
    with ``every_word``, all of them. Of several that hold as many, the one of fewest other
    words (declared ones, then letters for names folded into one word); None when two are
    equally short, or none holds half the words. ``prefixes``
    are conventions known from elsewhere (the schema's table names for column names). A
    spelling that swaps one whole word for another is a different name, not a typo: ``site_id``
    is not ``item_id``, however alike their letters.
    """
    lowered = {n.lower(): n for n in names}
    close = difflib.get_close_matches(wanted, names, n=1, cutoff=cutoff) or difflib.get_close_matches(
        wanted.lower(), list(lowered), n=1, cutoff=cutoff
    )
    if close and _misspelt(wanted, close[0], cutoff):
        return lowered.get(close[0], close[0])
    wanted_words = [w for w in _said_words(wanted) if len(w) > 1]
    if not wanted_words or not names:
        return None
    shared, suffixes = shared_affixes(names)
    held = {}
    for name in names:
        parts = name_words(name, (*shared, *prefixes), suffixes)
        held[name] = sum(w in parts.words or parts.abbreviates(w) for w in wanted_words)
    best = max(held.values())
    if best == 0 or 2 * best < len(wanted_words) or (every_word and best < len(wanted_words)):
        return None
    fits = sorted((n for n, count in held.items() if count == best), key=lambda n: (len(declared_words(n)), len(n)))
    if len(fits) > 1 and (len(fits[0]) == len(fits[1]) or 1 < len(declared_words(fits[0])) == len(declared_words(fits[1]))):
        return None  # two names fit equally well (`name`: first_name or last_name): no guess
    return fits[0]


def mostly_other_words(wanted: str, name: str, prefixes: Sequence[str] = ()) -> bool:
    """Whether ``name`` declares more words that ``wanted`` does not say than words it does
    (``prefixes``, conventions such as a table prefix, aside): ``raw_user_meta_data`` says
    mostly other things than ``username``, ``customer_name`` is half of ``name``. A name folded
    into one word declares too little to tell."""
    said = _said_words(wanted)
    declared = [w for w in declared_words(name) if w not in prefixes]
    matched = sum(any(w == d or w in d or d.startswith(w) or (len(d) >= MIN_ABBREVIATION and d in w) for w in said) for d in declared)
    return len(declared) - matched > matched


def _said_words(name: str) -> list[str]:
    """The words of a name someone wrote, its folded runs segmented: ``saleAt`` written
    unquoted reaches us as ``saleat``, which is "sale at" (not an abbreviation of "sale")."""
    return [piece for word in declared_words(name) for piece in (segment(word) if _segmentable(word) else (word,))]


def _segmentable(run: str) -> bool:
    """A run of letters long enough to be several words folded together (`whordertotal`);
    shorter runs and runs with digits are kept whole."""
    return len(run) >= MIN_SEGMENTED and run.isalpha()


def _misspelt(wanted: str, name: str, cutoff: float) -> bool:
    """Whether ``name`` is ``wanted`` spelled otherwise word by word, where both declare the
    same number of words: each word the same, a prefix of the other (``id``, ``ids``), or
    spelled almost the same. A name of one word (or folded into one) has only its letters."""
    ours, theirs = declared_words(wanted), declared_words(name)
    if len(ours) != len(theirs) or len(ours) < 2:
        return True
    return all(a.startswith(b) or b.startswith(a) or difflib.SequenceMatcher(None, a, b).ratio() >= cutoff for a, b in zip(ours, theirs, strict=True))


def _compact(name: str) -> str:
    return "".join(declared_words(name))


def _affixes(texts: list[str]) -> tuple[str, ...]:
    if len(texts) < 3:
        return ()
    counts: Counter[str] = Counter()
    for text in texts:
        for size in range(MIN_AFFIX, min(MAX_AFFIX, len(text) - 2) + 1):
            counts[text[:size]] += 1
    longest_extension: Counter[str] = Counter()
    for prefix, count in counts.items():
        if len(prefix) > MIN_AFFIX:
            longest_extension[prefix[:-1]] = max(longest_extension[prefix[:-1]], count)
    needed = max(3, SHARED_AFFIX_SHARE * len(texts))
    return tuple(p for p, count in counts.items() if count >= needed and longest_extension[p] < count)


def _segments(run: str) -> list[tuple[int, str]]:
    """``custname`` -> [(0, "cust"), (4, "name")] by the unigram model's most likely split."""
    offset, pieces = 0, []
    for piece in segment(run):
        pieces.append((offset, piece))
        offset += len(piece)
    return pieces


@lru_cache(maxsize=65536)
def segment(run: str) -> tuple[str, ...]:
    """The most likely words of a run of letters written together (``custname``)."""
    global _segmenter_loaded
    import wordsegment

    with _segmenter_lock:
        if not _segmenter_loaded:
            wordsegment.load()  # about half a second, once per process
            _segmenter_loaded = True
    return tuple(wordsegment.segment(run))


def _common_prefix(word: str, text: str, start: int) -> int:
    size = 0
    while size < len(word) and start + size < len(text) and word[size] == text[start + size]:
        size += 1
    return size
