"""BERT's WordPiece tokenizer for a given vocabulary (chapter 7): a basic split, then each word
cut greedily into the longest vocabulary pieces. It applies a vocabulary; it does not train one."""
from __future__ import annotations

import unicodedata
from collections.abc import Sequence

__all__ = ["WordPiece"]

_CJK_RANGES = ((0x4E00, 0x9FFF), (0x3400, 0x4DBF), (0x20000, 0x2A6DF), (0x2A700, 0x2B73F),
               (0x2B740, 0x2B81F), (0x2B820, 0x2CEAF), (0xF900, 0xFAFF), (0x2F800, 0x2FA1F))


def _is_punctuation(char: str) -> bool:
    """ASCII symbols (!"#$%&... also $, + and ^, which Unicode does not call punctuation) and
    every Unicode punctuation character."""
    cp = ord(char)
    return (33 <= cp <= 47 or 58 <= cp <= 64 or 91 <= cp <= 96 or 123 <= cp <= 126
            or unicodedata.category(char).startswith("P"))


def _is_cjk(char: str) -> bool:
    return any(lo <= ord(char) <= hi for lo, hi in _CJK_RANGES)


class WordPiece:
    """BERT's WordPiece tokenizer for a given vocabulary (Wu et al., 2016; Devlin et al., 2019).

    First a basic split: drop control characters, turn every whitespace character into a space,
    put spaces around CJK ideographs, split at spaces, lower-case and strip accents (é -> e), and
    split off each punctuation character. Then each word is cut into vocabulary pieces greedily,
    longest match first, pieces after the first carrying the prefix "##" ("unaffable" -> "un",
    "##aff", "##able"). A word with no such cut, or longer than `max_chars`, becomes `unk_token`.

    Args:
        vocab: the tokens, token i having index i (the lines of BERT's vocab.txt).
        lower_case: lower-case and strip accents (the "uncased" models).
        unk_token, cls_token, sep_token, pad_token: the special tokens, all in `vocab`.
        max_chars: longer words become `unk_token` (BERT uses 100).

    Example:
        >>> wp = WordPiece(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "un", "##aff", "##able", "a",
        ...                 "!", "##s"])
        >>> wp.tokenize("Unaffable, as!")    # "," is not in this vocabulary
        ['un', '##aff', '##able', '[UNK]', 'a', '##s', '!']
        >>> wp.encode("a", "as")        # ([CLS] a [SEP] a ##s [SEP], segments 0 0 0 1 1 1)
        ([2, 7, 3, 7, 9, 3], [0, 0, 0, 1, 1, 1])
    """

    def __init__(self, vocab: Sequence[str], lower_case: bool = True, unk_token: str = "[UNK]",
                 cls_token: str = "[CLS]", sep_token: str = "[SEP]", pad_token: str = "[PAD]",
                 max_chars: int = 100):
        self.idx_to_token = list(vocab)
        self.token_to_idx = {token: i for i, token in enumerate(self.idx_to_token)}
        for name, token in (("unk_token", unk_token), ("cls_token", cls_token),
                            ("sep_token", sep_token), ("pad_token", pad_token)):
            if token not in self.token_to_idx:
                raise ValueError(f"WordPiece(): {name}={token!r} is not in the vocabulary; "
                                 f"pass the vocabulary's own special token, e.g. {name}='[UNK]'")
        self.lower_case, self.max_chars = lower_case, max_chars
        self.unk_token, self.cls_token, self.sep_token = unk_token, cls_token, sep_token
        self.pad_id = self.token_to_idx[pad_token]

    def __len__(self) -> int:
        return len(self.idx_to_token)

    def basic_split(self, text: str) -> list[str]:
        """Clean, split at whitespace and around CJK ideographs and punctuation; lower-case and
        strip accents when `lower_case`.

        Example:
            >>> WordPiece(["[PAD]", "[UNK]", "[CLS]", "[SEP]"]).basic_split("Héllo,  wörld!")
            ['hello', ',', 'world', '!']
        """
        chars = []
        for char in text:
            cat = unicodedata.category(char)
            if char in " \t\n\r" or cat == "Zs":
                chars.append(" ")
            elif ord(char) == 0 or ord(char) == 0xFFFD or cat.startswith("C"):
                continue  # control characters and the replacement character are dropped
            elif _is_cjk(char):
                chars.append(f" {char} ")
            else:
                chars.append(char)
        words = []
        for word in "".join(chars).split():
            if self.lower_case:  # lower-case, then drop the accents NFD splits off
                word = unicodedata.normalize("NFD", word.lower())
                word = "".join(c for c in word if unicodedata.category(c) != "Mn")
            piece = ""
            for char in word:
                if _is_punctuation(char):
                    words += [piece, char] if piece else [char]
                    piece = ""
                else:
                    piece += char
            if piece:
                words.append(piece)
        return words

    def split_word(self, word: str) -> list[str]:
        """Cut one word into vocabulary pieces, longest match first; `[unk_token]` if none fits."""
        if len(word) > self.max_chars:
            return [self.unk_token]
        pieces, start = [], 0
        while start < len(word):
            for end in range(len(word), start, -1):  # the longest piece in the vocabulary
                piece = word[start:end] if start == 0 else "##" + word[start:end]
                if piece in self.token_to_idx:
                    break
            else:
                return [self.unk_token]
            pieces.append(piece)
            start = end
        return pieces

    def tokenize(self, text: str) -> list[str]:
        """The WordPiece tokens of `text` (no special tokens)."""
        return [piece for word in self.basic_split(text) for piece in self.split_word(word)]

    def ids(self, tokens: Sequence[str]) -> list[int]:
        """Indices of `tokens` (unknown tokens map to `unk_token`'s index)."""
        unk = self.token_to_idx[self.unk_token]
        return [self.token_to_idx.get(token, unk) for token in tokens]

    def encode(self, text: str, pair: str | None = None) -> tuple[list[int], list[int]]:
        """BERT's input for one text or a pair: `[CLS] text [SEP]` or `[CLS] text [SEP] pair
        [SEP]` as indices, and the segment of each token (0 up to the first [SEP], 1 after)."""
        tokens = [self.cls_token, *self.tokenize(text), self.sep_token]
        segments = [0] * len(tokens)
        if pair is not None:
            second = [*self.tokenize(pair), self.sep_token]
            tokens, segments = tokens + second, segments + [1] * len(second)
        return self.ids(tokens), segments
