"""Preparing the user's text: alphabet fitting, lines and wrapping, input checks (scribe.ink.text)."""

from __future__ import annotations

import random
import string

import pytest

from scribe.errors import ScribeError
from scribe.ink.text import Substitution, check_text, decode_input, describe_substitutions, fit_to_alphabet
from scribe.ink.wrapping import CharWidth, relative_char_width, split_paragraphs, wrap_line, wrap_text

# The alphabet of the shipped IAM-OnDB model.
IAM = " !\"#&'()*+,-./0123456789:;?ABCDEFGHIJKLMNOPQRSTUVWXYZ[]abcdefghijklmnopqrstuvwxyz"

# English prose with the usual punctuation, capitals and digits; relative_char_width
# is normalized to average 1.0 on it.
ENGLISH_SAMPLE = """When the last of the evening light had faded from the hills, Margaret
walked down to the harbour with her brother. The boats were coming in, one by
one, and the fishermen called to each other across the water. "Did you see the
Johnsons' new boat?" asked Tom. "It cost them nearly 2,000 pounds, and they
still can't keep it dry." She laughed; it was the kind of story their father
used to tell on winter nights, sitting by the fire with his pipe. In 1987 the
old pier was rebuilt, but the village itself has hardly changed: the same
narrow streets, the same grey stone cottages, the same small shop selling
bread, newspapers and everything else anyone might need."""

# A second, different paragraph, to check the normalization is not fitted to one text.
ENGLISH_OTHER = """Dear Mr. Patel, thank you for your letter of 14 March. I am sorry to hear
that the parcel arrived damaged. We have sent a replacement today by first-class
post, and you should receive it within three working days. If anything is still
wrong, please write to me directly at the address above; I will make sure it is
put right. With kind regards, Susan Whitfield (Customer Services)."""


def fit(text: str, alphabet: str = IAM) -> tuple[str, list[tuple[str, str, int]]]:
    """fit_to_alphabet with the substitutions as plain tuples, for short asserts."""
    fitted, subs = fit_to_alphabet(text, alphabet)
    return fitted, [(s.original, s.replacement, s.count) for s in subs]


def width(line: str, char_width: CharWidth = relative_char_width) -> float:
    """Width of a line as the wrapping measures it."""
    return sum(char_width(ch) for ch in line)


# --------------------------------------------------------------------------- fit_to_alphabet


def test_writable_text_and_line_breaks_are_unchanged() -> None:
    text = "Hello, World! (1+2) #3 & [x]\nsecond line\r\nthird\rfourth"
    assert fit(text) == (text, [])


def test_curly_quotes_and_primes_become_straight() -> None:
    assert fit("\u201cHi\u201d, it\u2019s \u2018ok\u2019 \u00abnon\u00bb 6\u2032 2\u2033") == (
        '"Hi", it\'s \'ok\' "non" 6\' 2"',
        [
            ("\u201c", '"', 1),
            ("\u201d", '"', 1),
            ("\u2019", "'", 2),
            ("\u2018", "'", 1),
            ("\u00ab", '"', 1),
            ("\u00bb", '"', 1),
            ("\u2032", "'", 1),
            ("\u2033", '"', 1),
        ],
    )


def test_dashes_minus_bullet_and_ellipsis() -> None:
    fitted, subs = fit("a\u2013b\u2014c \u22125 non\u2011stop\n\u2022 item\u2026")
    assert fitted == "a-b-c -5 non-stop\n- item..."
    assert ("\u2026", "...", 1) in subs
    assert {s[1] for s in subs} == {"-", "..."}


def test_accents_and_letters_without_decomposition() -> None:
    assert fit("Café Ñandú Ça Straße Æsop smørrebrød Łódź")[0] == "Cafe Nandu Ca Strasse AEsop smorrebrod Lodz"


def test_ligatures_fractions_and_symbols() -> None:
    assert (
        fit("\ufb01ne \ufb02ow 3\u00d74 \u00bd cup, 1\u00bd cups, 1/2")[0] == "fine flow 3x4 1/2 cup, 1 1/2 cups, 1/2"
    )
    # the space before a fraction after a digit is layout, not part of the reported substitution
    assert fit("1\u00bd \u00bd")[1] == [("\u00bd", "1/2", 2)]


def test_decomposed_accents_count_as_one_character() -> None:
    assert fit("e\u0301te\u0301 \u00e9t\u00e9") == ("ete ete", [("\u00e9", "e", 4)])


def test_tabs_and_unusual_spaces_become_spaces() -> None:
    fitted, subs = fit("a\tb\u00a0c\u2009d\u202fe\u3000f\u1680g")
    assert fitted == "a b c d e f g"
    assert [s[:2] for s in subs] == [(ch, " ") for ch in "\t\u00a0\u2009\u202f\u3000\u1680"]


def test_unknown_characters_are_dropped_and_counted_in_order() -> None:
    fitted, subs = fit("I \u2603 snow \u2019n\u2019 \U0001f600 \u2603 \u00e9")
    assert fitted == "I  snow 'n'   e"
    assert subs == [("\u2603", "", 2), ("\u2019", "'", 2), ("\U0001f600", "", 1), ("\u00e9", "e", 1)]


def test_emoji_with_variation_selector_and_zwj_is_dropped_as_seen() -> None:
    family = "\U0001f468\u200d\U0001f469\u200d\U0001f467"
    assert fit(f"a\u2603\ufe0fb{family}c") == (
        "abc",
        [("\u2603\ufe0f", "", 1), ("\U0001f468", "", 1), ("\U0001f469", "", 1), ("\U0001f467", "", 1)],
    )


def test_invisible_format_characters_are_removed_silently() -> None:
    assert fit("a\u200bb\u00adc\u200ed\ufeffe") == ("abcde", [])


def test_other_line_breaks_are_kept_for_split_paragraphs() -> None:
    text = "a\u2028b\u2029c\x0cd"
    assert fit(text) == (text, [])
    assert split_paragraphs(text) == ["a", "b", "c", "d"]


def test_describe_substitutions() -> None:
    _, subs = fit_to_alphabet("\u2019\u2019\u2019 \u00e9 \u2603 a\u00a0b", IAM)
    assert (
        describe_substitutions(subs)
        == "substituted: \u2019 -> ' (3), \u00e9 -> e (1), '\\xa0' -> ' ' (1); dropped: \u2603 (1)"
    )
    assert describe_substitutions([]) == ""
    assert describe_substitutions([Substitution("x", "", 2)]) == "dropped: x (2)"


def test_strict_mode_lists_what_cannot_be_written() -> None:
    with pytest.raises(ScribeError) as info:
        fit_to_alphabet("caf\u00e9 \u2603 caf\u00e9\u00a0!", IAM, strict=True)
    message = str(info.value)
    assert "'\u00e9' (U+00E9)" in message
    assert "'\u2603' (U+2603)" in message
    assert "'\\xa0' (U+00A0)" in message
    assert message.count("U+00E9") == 1
    assert "drop `strict`" in message
    assert "\n" not in message


def test_strict_mode_shortens_a_long_list() -> None:
    greek = "".join(chr(c) for c in range(0x3B1, 0x3B1 + 15))
    with pytest.raises(ScribeError, match="and 5 more"):
        fit_to_alphabet(greek, IAM, strict=True)


def test_strict_mode_accepts_writable_text() -> None:
    assert fit_to_alphabet("plain text\n", IAM, strict=True) == ("plain text\n", [])


def test_fallbacks_for_a_smaller_alphabet() -> None:
    small = string.ascii_lowercase + " '.,-"
    fitted, subs = fit("\u201cHi\u201d; OK: 3 \u00c9t\u00e9! why? (x) [y] a&b", small)
    assert fitted == "'hi', ok.  ete. why. x y ab"
    assert ('"', "'", 1) not in subs  # reported per original character
    assert ("\u201c", "'", 1) in subs
    assert ("H", "h", 1) in subs
    assert ("3", "", 1) in subs  # no digits: dropped
    assert ("\u00c9", "e", 1) in subs
    assert ("(", "", 1) in subs  # ( and [ stand in for each other; neither exists


def test_an_uppercase_alphabet_gets_capitals() -> None:
    assert fit("Stra\u00dfe \u00e9t\u00e9", string.ascii_uppercase + " ")[0] == "STRASSE ETE"


def test_fallbacks_prefer_the_first_available_stand_in() -> None:
    assert fit("{a}", "a[]")[0] == "[a]"
    assert fit("{a}", "a()[]")[0] == "(a)"


# --------------------------------------------------------------------------- split_paragraphs


def test_lines_are_kept_and_blank_lines_become_none() -> None:
    text = "Roses are red,\nViolets  are\tblue.\n\n\nSugar is sweet\n   \nAnd so are you."
    assert split_paragraphs(text) == [
        "Roses are red,",
        "Violets are blue.",
        None,
        None,
        "Sugar is sweet",
        None,
        "And so are you.",
    ]


def test_windows_and_old_mac_line_endings() -> None:
    assert split_paragraphs("one\r\ntwo\r\n\r\nthree\rfour\r") == ["one", "two", None, "three", "four"]


def test_leading_and_trailing_blank_lines_and_spaces_are_dropped() -> None:
    assert split_paragraphs("\n \n  Dear Ann,  \n\nBye\n\n \n") == ["Dear Ann,", None, "Bye"]
    assert split_paragraphs("") == []
    assert split_paragraphs(" \n\t\n") == []


# --------------------------------------------------------------------------- wrapping


def test_wrap_keeps_words_whole() -> None:
    assert wrap_line("the quick brown fox jumps", 10) == ["the quick", "brown fox", "jumps"]
    assert wrap_line("exactly ten", 11) == ["exactly ten"]
    assert wrap_line("   ", 10) == []


def test_an_overlong_word_is_split_with_hyphens() -> None:
    assert wrap_line("extraordinarily", 10) == ["extraordi-", "narily"]
    assert wrap_line("abcdefghijklmnopqrstuvwxyz", 10) == ["abcdefghi-", "jklmnopqr-", "stuvwxyz"]
    assert wrap_line("abc", 2) == ["a-", "bc"]


def test_an_overlong_word_fills_the_current_line_first() -> None:
    assert wrap_line("an extraordinarily long word", 10) == ["an extrao-", "rdinarily", "long word"]
    # not even two letters and a hyphen fit after "abcdefg": the word starts a new line
    assert wrap_line("abcdefg extraordinarily", 10) == ["abcdefg", "extraordi-", "narily"]


def test_a_split_after_a_hyphen_adds_no_second_one() -> None:
    assert wrap_line("abcdefgh-ijklmnop", 10) == ["abcdefgh-", "ijklmnop"]


def test_pieces_leave_at_least_two_letters() -> None:
    # 11 letters at 10: "abcdefghi-" + "jk", never "abcdefghij-" overflowing or a lone "k"
    assert wrap_line("abcdefghijk", 10) == ["abcdefghi-", "jk"]
    wide = {"W": 3.0}
    assert wrap_line("aaaaWa", 6, lambda ch: wide.get(ch, 1.0)) == ["aaaa-", "Wa"]


def test_too_narrow_a_page_is_refused() -> None:
    for narrow in (1.9, 0, -3, float("nan")):
        with pytest.raises(ScribeError, match="too narrow.*margins"):
            wrap_line("text", narrow)
        with pytest.raises(ScribeError, match="too narrow"):
            wrap_text("", narrow)


def test_wrap_text_keeps_blank_lines_and_never_yields_empty_lines() -> None:
    text = "\nshort\n\n\na line that is far too long for the page\r\n\n"
    assert wrap_text(text, 12) == ["short", None, None, "a line that", "is far too", "long for the", "page"]


def random_words(rng: random.Random) -> list[str]:
    """Words of 1 to 25 letters (a few far longer than a line), mixed case."""
    letters = string.ascii_letters + "iiilllmmmwww"
    return [
        "".join(rng.choice(letters) for _ in range(rng.choice([1, 2, 3, 4, 5, 6, 8, 12, 25])))
        for _ in range(rng.randint(1, 40))
    ]


@pytest.mark.parametrize("char_width", [None, relative_char_width])
def test_wrapping_properties_on_random_text(char_width: CharWidth | None) -> None:
    rng = random.Random(1234)
    measure: CharWidth = char_width or (lambda ch: 1.0)
    for _ in range(300):
        words = random_words(rng)
        max_chars = rng.uniform(2, 30) if char_width is None else rng.uniform(4.5, 30)
        lines = wrap_line(" ".join(words), max_chars, char_width)
        assert lines and all(line and line == line.strip() and "  " not in line for line in lines)
        assert all(width(line, measure) <= max_chars + 1e-9 for line in lines)
        # joining split pieces back gives the words again, in order
        assert "".join(line[:-1] if line.endswith("-") else line + " " for line in lines).split() == words
        # a word that fits on a line is never split
        whole = {w for line in lines for w in line.split()}
        assert all(word in whole for word in words if width(word, measure) <= max_chars)
        # split pieces have at least two letters when the line is wide enough for that
        if max_chars >= 3 * max(measure(ch) for ch in string.ascii_letters + "-"):
            pieces = [piece for line in lines for piece in line.split()]
            assert all(len(piece.rstrip("-")) >= 2 for piece in pieces if piece.endswith("-"))


def test_relative_widths_average_one_on_english() -> None:
    for sample in (ENGLISH_SAMPLE, ENGLISH_OTHER):
        prose = " ".join(sample.split())
        mean = width(prose) / len(prose)
        assert 0.95 <= mean <= 1.05, mean
    assert relative_char_width("i") < relative_char_width(" ") < relative_char_width("n") < relative_char_width("m")
    assert relative_char_width("w") < relative_char_width("W")
    assert relative_char_width("a") < relative_char_width("A")
    assert relative_char_width(".") < 1 < relative_char_width("M")


def test_relative_widths_fit_more_narrow_letters_on_a_line() -> None:
    assert wrap_line("ill lit ill lit ill lit", 12, relative_char_width) == ["ill lit ill lit ill", "lit"]
    assert len(wrap_line("MMMM WWWW", 12, relative_char_width)) == 2


# --------------------------------------------------------------------------- input


def test_check_text() -> None:
    assert check_text("hello\n") == "hello\n"
    for empty in ("", "   ", "\n\t\r\n"):
        with pytest.raises(ScribeError, match="no text to write.*`text`"):
            check_text(empty)


def test_decode_input_utf8_with_and_without_bom() -> None:
    assert decode_input("caf\u00e9\n".encode(), "notes.txt") == "caf\u00e9\n"
    assert decode_input(b"\xef\xbb\xbfcaf\xc3\xa9", "stdin") == "caf\u00e9"
    assert decode_input(b"", "stdin") == ""


def test_decode_input_names_the_first_bad_byte() -> None:
    with pytest.raises(ScribeError) as info:
        decode_input(b"abc\ndef caf\xe9 ok \xff", "letter.txt")
    message = str(info.value)
    assert message.startswith("letter.txt is not UTF-8")
    assert "0xE9 at offset 11 (line 2)" in message
    assert "iconv -f latin1 -t utf-8" in message
    with pytest.raises(ScribeError, match="0xFF at offset 5 "):
        decode_input(b"\xef\xbb\xbfab\xff", "stdin")
    with pytest.raises(ScribeError, match="0xC3 at offset 2 "):
        decode_input(b"ab\xc3", "stdin")  # truncated sequence at the end
