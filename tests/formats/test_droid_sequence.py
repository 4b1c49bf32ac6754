"""DROID's byte-sequence syntax and matching rules, one construct at a time, on hand-made bytes."""

from __future__ import annotations

import pytest

from strongroom.formats.droid.sequence import (
    ByteSequenceSpec,
    FragmentSpec,
    SequenceSyntaxError,
    SubSequenceSpec,
    build_byte_sequence,
    build_internal_signature,
    compile_sequence,
    match_byte_sequence,
    match_internal_signature,
    rewrite_fragment,
)

# --- syntax --------------------------------------------------------------------------------------


def test_hex_bytes_compile_to_one_value_per_position() -> None:
    pattern = compile_sequence("4D4D002A")
    assert pattern.length == 4
    assert pattern.literal == b"MM\x00*"


def test_droid_ranges_and_negations_are_rewritten_and_compiled() -> None:
    assert rewrite_fragment("[30:37]") == "[30-37]"
    assert rewrite_fragment("FF[!00:1F]") == "FF^[00-1F]"
    assert compile_sequence("[30:37]").classes[0] == frozenset(range(0x30, 0x38))
    assert compile_sequence("[!00:1F]").classes[0] == frozenset(range(0x20, 0x100))
    assert compile_sequence("[!0A]").classes[0] == frozenset(range(256)) - {0x0A}


def test_text_sets_bitmasks_repeats_and_single_byte_alternatives() -> None:
    pattern = compile_sequence("10 00 'Word.' ['6'-'7'] (22|27) &01 .{2} 00")
    assert pattern.length == 2 + 5 + 1 + 1 + 1 + 2 + 1
    assert pattern.classes[7] == frozenset(b"67")
    assert pattern.classes[8] == frozenset((0x22, 0x27))
    assert pattern.classes[9] == frozenset(range(1, 256, 2))
    assert pattern.classes[10] == frozenset(range(256))
    assert pattern.matches_at(b"\x10\x00Word.6'\x03xy\x00", 0)
    assert not pattern.matches_at(b"\x10\x00Word.8'\x03xy\x00", 0)


def test_case_insensitive_text() -> None:
    pattern = compile_sequence("`PdF`")
    assert pattern.matches_at(b"pdf", 0) and pattern.matches_at(b"PDF", 0)
    assert not pattern.matches_at(b"pdx", 0)


@pytest.mark.parametrize("text", ["01{2-4}", "01*", "(0102|03)", "01 ?", "", "0G", "[01", "'unclosed"])
def test_what_byteseek_cannot_compile_is_an_error(text: str) -> None:
    with pytest.raises(SequenceSyntaxError) as raised:
        compile_sequence(text)
    assert raised.value.details  # says what to do next


def test_search_forward_and_backward_find_first_and_last() -> None:
    pattern = compile_sequence("41[42:43]")
    data = b"xxABxxACxxAB"
    assert pattern.search_forward(data, 0, len(data)) == 2
    assert pattern.search_forward(data, 3, len(data)) == 6
    assert pattern.search_backward(data, len(data), 0) == 10
    assert pattern.search_backward(data, 9, 0) == 6
    assert pattern.search_backward(data, 1, 0) == -1


# --- matching ------------------------------------------------------------------------------------


def _seq(reference: str, *subs: SubSequenceSpec) -> ByteSequenceSpec:
    return ByteSequenceSpec(reference=reference, subsequences=subs)


def _matches(spec: ByteSequenceSpec, data: bytes, limit: int | None = None) -> bool:
    return match_byte_sequence(build_byte_sequence(spec), data, limit)


def test_bof_sequence_matches_between_its_minimum_and_maximum_offset() -> None:
    spec = _seq("BOFoffset", SubSequenceSpec("CAFE", min_offset=2, max_offset=4))
    assert not _matches(spec, b"\xca\xfe" + b"\x00" * 10)  # offset 0 < minimum 2
    assert _matches(spec, b"\x00\x00\xca\xfe" + b"\x00" * 10)
    assert _matches(spec, b"\x00" * 4 + b"\xca\xfe" + b"\x00" * 10)
    assert not _matches(spec, b"\x00" * 5 + b"\xca\xfe" + b"\x00" * 10)  # past the maximum


def test_bof_sequence_without_maximum_is_fixed_at_its_minimum() -> None:
    # DROID: SubSeqMaxOffset absent means "equal to the minimum".
    spec = _seq("BOFoffset", SubSequenceSpec("CAFE", min_offset=3))
    assert _matches(spec, b"123\xca\xfe")
    assert not _matches(spec, b"1234\xca\xfe")


def test_eof_sequence_is_matched_back_from_the_end() -> None:
    spec = _seq("EOFoffset", SubSequenceSpec("3B", min_offset=0, max_offset=2))
    assert _matches(spec, b"GIF89a...;")
    assert _matches(spec, b"GIF89a...;\x00\x00")
    assert not _matches(spec, b"GIF89a...;\x00\x00\x00")
    assert not _matches(spec, b"GIF89a...")


def test_variable_sequence_matches_anywhere() -> None:
    spec = _seq("Variable", SubSequenceSpec("'needle'"))
    assert _matches(spec, b"x" * 5000 + b"needle" + b"y" * 10)
    assert not _matches(spec, b"x" * 5000 + b"needl")


def test_subsequences_match_in_order_with_their_gaps() -> None:
    spec = _seq("BOFoffset", SubSequenceSpec("'AB'"), SubSequenceSpec("'CD'", min_offset=2))
    assert _matches(spec, b"AB..CD")
    assert _matches(spec, b"AB.........CD")  # later SubSequences scan on to the end (DROID ignores their maximum)
    assert not _matches(spec, b"AB.CD")  # gap below the minimum
    assert not _matches(spec, b"CD..AB")  # wrong order


def test_left_and_right_fragments_at_bounded_distances() -> None:
    sub = SubSequenceSpec(
        "'MID'",
        max_offset=20,
        left=(FragmentSpec("'L'", 1, 3, 1),),
        right=(FragmentSpec("'R1'", 0, 0, 1), FragmentSpec("'R2'", 0, 0, 1), FragmentSpec("'E'", 2, 4, 2)),
    )
    spec = _seq("BOFoffset", sub)
    assert _matches(spec, b"L.MIDR1..E")
    assert _matches(spec, b"L...MIDR2....E")
    assert not _matches(spec, b"LMIDR1..E")  # left fragment too close
    assert not _matches(spec, b"L.MIDR3..E")  # no right alternative
    assert not _matches(spec, b"L.MIDR1.....E")  # second right fragment too far


def test_limit_on_bytes_scanned_follows_droid() -> None:
    spec = _seq("Variable", SubSequenceSpec("'deep'"))
    data = b"." * 1000 + b"deep" + b"." * 1000
    assert _matches(spec, data)
    assert _matches(spec, data, limit=1003)  # the match ends at byte 1003
    assert not _matches(spec, data, limit=1002)


def test_all_byte_sequences_of_a_signature_are_required() -> None:
    signature = build_internal_signature(
        1,
        [
            _seq("BOFoffset", SubSequenceSpec("'GIF8'")),
            _seq("EOFoffset", SubSequenceSpec("3B")),
        ],
    )
    assert match_internal_signature(signature, b"GIF89a....;")
    assert not match_internal_signature(signature, b"GIF89a....")  # truncated: no trailer
    assert not match_internal_signature(signature, b"PNG.......;")


def test_signature_sequences_are_sorted_like_droid() -> None:
    signature = build_internal_signature(
        2,
        [
            _seq("Variable", SubSequenceSpec("01")),
            _seq("EOFoffset", SubSequenceSpec("02")),
            _seq("BOFoffset", SubSequenceSpec("03")),
        ],
    )
    assert [s.reference for s in signature.sequences] == ["BOFoffset", "EOFoffset", "Variable"]


def test_truncated_and_empty_content_never_match_out_of_range() -> None:
    spec = _seq("BOFoffset", SubSequenceSpec("'ABCDEF'"))
    assert not _matches(spec, b"ABC")
    assert not _matches(spec, b"")
    eof = _seq("EOFoffset", SubSequenceSpec("'ABCDEF'", min_offset=0, max_offset=10))
    assert not _matches(eof, b"DEF")


def test_an_invalid_fragment_invalidates_the_sequence() -> None:
    sub = SubSequenceSpec("'A'", right=(FragmentSpec("01*", 1, 2, 1),))
    with pytest.raises(SequenceSyntaxError):
        build_byte_sequence(_seq("BOFoffset", sub))
