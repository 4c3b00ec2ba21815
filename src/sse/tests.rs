use super::*;
use std::num::NonZeroUsize;

fn decode_whole(input: &[u8]) -> Vec<SseEvent> {
    let mut d = SseDecoder::new();
    let mut out = Vec::new();
    d.push(input, &mut out).unwrap();
    d.finish().unwrap();
    out
}

/// Decodes `input` whole, byte by byte and split at every point; all must agree.
fn decode_all_ways(input: &[u8]) -> Vec<SseEvent> {
    let whole = decode_whole(input);
    let mut d = SseDecoder::new();
    let mut out = Vec::new();
    for b in input {
        d.push(std::slice::from_ref(b), &mut out).unwrap();
    }
    d.finish().unwrap();
    assert_eq!(out, whole, "byte by byte differs for {input:?}");
    for split in 0..=input.len() {
        let mut out = Vec::new();
        d.push(&input[..split], &mut out).unwrap();
        d.push(&input[split..], &mut out).unwrap();
        d.finish().unwrap();
        assert_eq!(out, whole, "split at {split} differs for {input:?}");
    }
    whole
}

fn view(events: &[SseEvent]) -> Vec<(String, String, String, Option<u64>)> {
    events
        .iter()
        .map(|e| (e.event().into(), e.data().into(), e.id().into(), e.retry()))
        .collect()
}

macro_rules! case {
    ($name:ident, $input:expr, [$(($ev:expr, $data:expr, $id:expr, $retry:expr)),* $(,)?]) => {
        #[test]
        fn $name() {
            let got = view(&decode_all_ways($input));
            let want: Vec<(String, String, String, Option<u64>)> =
                vec![$(($ev.into(), $data.into(), $id.into(), $retry)),*];
            assert_eq!(got, want);
        }
    };
}

case!(simple, b"data: hi\n\n", [("message", "hi", "", None)]);
case!(no_space, b"data:hi\n\n", [("message", "hi", "", None)]);
case!(
    two_spaces_keeps_one,
    b"data:  hi\n\n",
    [("message", " hi", "", None)]
);
case!(
    multi_line_data,
    b"data: a\ndata: b\n\n",
    [("message", "a\nb", "", None)]
);
case!(empty_data_line, b"data\n\n", [("message", "", "", None)]);
case!(
    data_colon_empty,
    b"data:\ndata:\n\n",
    [("message", "\n", "", None)]
);
case!(no_data_no_event, b"event: x\n\n", []);
case!(
    event_type_resets,
    b"event: a\n\ndata: 1\n\n",
    [("message", "1", "", None)]
);
case!(
    event_named,
    b"event: ping\ndata: {}\n\n",
    [("ping", "{}", "", None)]
);
case!(crlf, b"data: a\r\n\r\n", [("message", "a", "", None)]);
case!(
    cr_only,
    b"data: a\r\rdata: b\r\r",
    [("message", "a", "", None), ("message", "b", "", None)]
);
case!(
    mixed_endings,
    b"data: a\r\ndata: b\rdata: c\n\r\n",
    [("message", "a\nb\nc", "", None)]
);
case!(
    comment,
    b": hello\ndata: x\n\n",
    [("message", "x", "", None)]
);
case!(
    bom,
    b"\xEF\xBB\xBFdata: x\n\n",
    [("message", "x", "", None)]
);
case!(
    second_bom_not_stripped,
    b"\xEF\xBB\xBF\xEF\xBB\xBFdata: x\n\n",
    []
);
case!(partial_bom, b"\xEF\xBBdata: x\n\n", []);
case!(
    id_persists,
    b"id: 7\ndata: a\n\ndata: b\n\n",
    [("message", "a", "7", None), ("message", "b", "7", None)]
);
case!(
    id_with_nul_ignored,
    b"id: 1\ndata: a\n\nid: 2\0x\ndata: b\n\n",
    [("message", "a", "1", None), ("message", "b", "1", None)]
);
case!(
    id_reset_empty,
    b"id: 1\ndata: a\n\nid\ndata: b\n\n",
    [("message", "a", "1", None), ("message", "b", "", None)]
);
case!(
    retry_digits,
    b"retry: 1500\ndata: a\n\n",
    [("message", "a", "", Some(1500))]
);
case!(
    retry_bad,
    b"retry: 15x\ndata: a\n\nretry:\ndata: b\n\n",
    [("message", "a", "", None), ("message", "b", "", None)]
);
case!(
    retry_space_bad,
    b"retry:  15\ndata: a\n\n",
    [("message", "a", "", None)]
);
case!(
    unknown_field,
    b"foo: bar\ndata: a\n\n",
    [("message", "a", "", None)]
);
case!(
    long_field_name,
    b"datadata: x\ndata: a\n\n",
    [("message", "a", "", None)]
);
case!(
    unterminated_dropped,
    b"data: a\n\ndata: b\n",
    [("message", "a", "", None)]
);
case!(
    unterminated_line_dropped,
    b"data: a\n\ndata: b",
    [("message", "a", "", None)]
);
case!(
    invalid_utf8,
    b"data: a\xFFb\n\n",
    [("message", "a\u{FFFD}b", "", None)]
);
case!(
    truncated_utf8_before_lf,
    b"data: \xE2\x82\ndata: x\n\n",
    [("message", "\u{FFFD}\nx", "", None)]
);
case!(
    multibyte,
    "data: известни €\n\n".as_bytes(),
    [("message", "известни €", "", None)]
);
case!(
    colon_in_value,
    b"data: a:b\n\n",
    [("message", "a:b", "", None)]
);
case!(
    event_invalid_utf8,
    b"event: \xFF\ndata: a\n\n",
    [("\u{FFFD}", "a", "", None)]
);
case!(empty_input, b"", []);
case!(only_blank_lines, b"\n\n\r\n\r", []);

#[test]
fn line_limit_is_an_error() {
    let limits = SseLimits::new().max_line_bytes(NonZeroUsize::new(8).unwrap());
    let mut d = SseDecoder::with_limits(limits);
    let mut out = Vec::new();
    d.push(b"data: 12\n\n", &mut out).unwrap();
    assert_eq!(out.len(), 1);
    let err = d.push(b"data: 123\n\n", &mut out).unwrap_err();
    assert_eq!(err, SseError::LineTooLong { limit: 8 });
    assert_eq!(d.push(b"\n", &mut out), Err(SseError::Failed));
    assert_eq!(d.finish(), Err(SseError::Failed));
    d.reset();
    d.push(b": comment\n", &mut out).unwrap_err();
}

#[test]
fn event_limit_is_an_error() {
    let limits = SseLimits::new().max_event_bytes(NonZeroUsize::new(6).unwrap());
    let mut d = SseDecoder::with_limits(limits);
    let mut out = Vec::new();
    d.push(b"data: ab\ndata: cd\n\n", &mut out).unwrap();
    assert_eq!(out[0].data(), "ab\ncd");
    let err = d.push(b"data: abc\ndata: def\n", &mut out).unwrap_err();
    assert_eq!(err, SseError::EventTooLarge { limit: 6 });
}

/// The error a limited decoder reports for `input`, at every split point.
fn limit_error_all_ways(limits: SseLimits, input: &[u8]) -> SseError {
    let run = |parts: &[&[u8]]| {
        let mut d = SseDecoder::with_limits(limits);
        let mut out = Vec::new();
        parts
            .iter()
            .find_map(|p| d.push(p, &mut out).err())
            .expect("a limit is exceeded")
    };
    let whole = run(&[input]);
    for split in 0..=input.len() {
        let (a, b) = input.split_at(split);
        assert_eq!(run(&[a, b]), whole, "split at {split}");
    }
    whole
}

// Found by the `sse` fuzz target: with both limits close, the whole input reported the
// line limit and a split one the event limit. The first byte over either limit decides.
#[test]
fn the_first_limit_exceeded_wins_whatever_the_chunking() {
    let limits = SseLimits::new()
        .max_line_bytes(NonZeroUsize::new(16).unwrap())
        .max_event_bytes(NonZeroUsize::new(12).unwrap());
    // Data reaches 12 + 1 bytes (event limit) before the line reaches 17.
    let event_first = b"data: 0123456789\ndata: abcdefghijklmnop\n";
    assert_eq!(
        limit_error_all_ways(limits, event_first),
        SseError::EventTooLarge { limit: 12 }
    );
    // The line passes 16 bytes while the event still has room.
    let line_first = b"data:0123456789abcdefg\n";
    let roomy = limits.max_event_bytes(NonZeroUsize::new(64).unwrap());
    assert_eq!(
        limit_error_all_ways(roomy, line_first),
        SseError::LineTooLong { limit: 16 }
    );
    // The same byte exceeds both: the line limit is reported.
    let both = SseLimits::new()
        .max_line_bytes(NonZeroUsize::new(10).unwrap())
        .max_event_bytes(NonZeroUsize::new(10).unwrap());
    assert_eq!(
        limit_error_all_ways(both, b"data:0123456789X\n"),
        SseError::LineTooLong { limit: 10 }
    );
}

// Found by the `sse` fuzz target: the event limit counts received bytes; the U+FFFD
// repair of invalid UTF-8 may deliver up to three times as many.
#[test]
fn event_limit_counts_received_bytes() {
    let limits = SseLimits::new().max_event_bytes(NonZeroUsize::new(5).unwrap());
    let mut d = SseDecoder::with_limits(limits);
    let mut out = Vec::new();
    d.push(b"data: \xff\xff\xff\xff\n\n", &mut out).unwrap();
    assert_eq!(out[0].data(), "\u{fffd}".repeat(4));
    assert_eq!(out[0].data().len(), 12);
}

// Found in review: an empty chunk after an error was answered `Ok`.
#[test]
fn a_failed_decoder_refuses_every_push_even_an_empty_one() {
    let limits = SseLimits::new().max_line_bytes(NonZeroUsize::new(4).unwrap());
    let mut d = SseDecoder::with_limits(limits);
    let mut out = Vec::new();
    assert!(d.push(b"data: too long", &mut out).is_err());
    assert_eq!(d.push(b"", &mut out), Err(SseError::Failed));
    assert_eq!(d.push_with(b"", |_| {}), Err(SseError::Failed));
    assert_eq!(d.finish(), Err(SseError::Failed));
}

#[test]
fn finish_reports_discarded_event() {
    let mut d = SseDecoder::new();
    let mut out = Vec::new();
    d.push(b"data: a\n\n", &mut out).unwrap();
    assert!(!d.finish().unwrap());
    d.push(b"data: a\n", &mut out).unwrap();
    assert!(d.finish().unwrap());
    d.push(b"data", &mut out).unwrap();
    assert!(d.finish().unwrap());
    d.push(b": only a comment\n", &mut out).unwrap();
    assert!(!d.finish().unwrap());
}

#[test]
fn event_type_is_shared_while_it_repeats() {
    let events = decode_whole(b"event: a\ndata: 1\n\nevent: a\ndata: 2\n\n");
    assert!(Arc::ptr_eq(&events[0].event, &events[1].event));
}

/// What a limited decoder yields for `input` (events, then its first error), the same
/// whole, byte by byte and split at every point; `what` names the case in failures.
type Decoded = (Vec<(String, String, String, Option<u64>)>, Option<SseError>);

fn limited_all_ways(limits: SseLimits, input: &[u8], what: &str) -> Decoded {
    let run = |parts: &[&[u8]]| {
        let mut d = SseDecoder::with_limits(limits);
        let mut out = Vec::new();
        let err = parts.iter().find_map(|p| d.push(p, &mut out).err());
        (view(&out), err)
    };
    let whole = run(&[input]);
    let bytes: Vec<&[u8]> = input.chunks(1).collect();
    assert_eq!(run(&bytes), whole, "{what}, byte by byte");
    for split in 0..=input.len() {
        let (a, b) = input.split_at(split);
        assert_eq!(run(&[a, b]), whole, "{what}, split at {split}");
    }
    whole
}

/// `data:` and `event:` at a line start take a shortcut when whole in the chunk: with a
/// line limit shorter than, equal to and longer than the names, it must behave as the
/// byte-by-byte path (which split points reach) does: same events, same error.
#[test]
fn field_name_shortcut_matches_the_byte_path_at_every_line_limit() {
    let input = b"event: e\ndata: x\n\ndata:y\nevent:\n\n";
    for limit in 1..=10 {
        let limits = SseLimits::new().max_line_bytes(NonZeroUsize::new(limit).unwrap());
        let whole = limited_all_ways(limits, input, &format!("limit {limit}"));
        assert_eq!(whole.1.is_none(), limit >= 8, "limit {limit}: {whole:?}");
    }
}

// An event of one data line followed by its blank line, whole in a chunk, is dispatched
// borrowing the value from the input. Each ending the slow path knows, whole and split.
case!(
    borrowed_lf_lf,
    b"event: a\ndata: 1\n\ndata: 2\n\n",
    [("a", "1", "", None), ("message", "2", "", None)]
);
case!(
    borrowed_crlf_crlf,
    b"data: 1\r\n\r\ndata: 2\r\n\r\n",
    [("message", "1", "", None), ("message", "2", "", None)]
);
case!(
    borrowed_cr_cr_then_lf_line,
    b"data: 1\r\r\ndata: 2\n\r\n",
    [("message", "1", "", None), ("message", "2", "", None)]
);
case!(
    borrowed_empty_value_dispatches_empty_data,
    b"data:\n\ndata: \r\n\r\n",
    [("message", "", "", None), ("message", "", "", None)]
);
case!(
    not_borrowed_when_another_field_follows,
    b"data: 1\nid: 7\n\ndata: 2\nretry: 5\n\n",
    [("message", "1", "7", None), ("message", "2", "7", Some(5))]
);
case!(
    not_borrowed_for_a_second_data_line,
    b"data: 1\ndata: 2\n\n",
    [("message", "1\n2", "", None)]
);
case!(
    crlf_without_blank_line_waits,
    b"data: 1\r\ndata: 2\r\n\r\n",
    [("message", "1\n2", "", None)]
);

/// The borrowed dispatch applies within both limits only: at every line and event limit
/// around the value's length, the events and the error are those of the byte-by-byte path.
#[test]
fn borrowed_dispatch_matches_the_byte_path_at_every_limit() {
    let input = b"data: 0123456789\n\ndata:abc\r\n\r\n";
    for line in 1..=20 {
        for event in 1..=14 {
            let limits = SseLimits::new()
                .max_line_bytes(NonZeroUsize::new(line).unwrap())
                .max_event_bytes(NonZeroUsize::new(event).unwrap());
            let whole = limited_all_ways(limits, input, &format!("line {line}, event {event}"));
            let fits = line >= 16 && event >= 11;
            assert_eq!(
                whole.1.is_none(),
                fits,
                "line {line}, event {event}: {whole:?}"
            );
        }
    }
}

/// Decodes `input` in chunks of every size from 1 to its length; all must agree with
/// decoding it whole. Long values cross the 64-byte blocks of the mid-line scan at every
/// offset this way.
fn decode_every_chunk_size(input: &[u8]) -> Vec<SseEvent> {
    let whole = decode_whole(input);
    for size in 1..=input.len() {
        let mut d = SseDecoder::new();
        let mut out = Vec::new();
        for chunk in input.chunks(size) {
            d.push(chunk, &mut out).unwrap();
        }
        d.finish().unwrap();
        assert_eq!(out, whole, "chunks of {size}");
    }
    whole
}

// A chunk in the middle of a data line is appended whole when it holds no line end. The
// scan also flags the vertical tab and form feed (0x0B, 0x0C, between LF and CR), which
// then take the byte path and stay in the data.
case!(
    vertical_tab_and_form_feed_stay_in_the_data,
    b"data: a\x0bb\x0cc\n\ndata:\x0c\x0b\r\n\r\n",
    [
        ("message", "a\u{b}b\u{c}c", "", None),
        ("message", "\u{c}\u{b}", "", None)
    ]
);

#[test]
fn long_lines_in_every_chunk_size() {
    let value: String = (0..150).map(|i| (b'a' + (i % 26) as u8) as char).collect();
    for end in ["\n", "\r", "\r\n"] {
        // Two long events; the second has two data lines and a stray VT late in a block.
        let input =
            format!("data: {value}{end}{end}data:{value}{end}data: {value}\x0b!{end}{end}: c{end}");
        let got = decode_every_chunk_size(input.as_bytes());
        assert_eq!(got.len(), 2, "{end:?}");
        assert_eq!(got[0].data(), value);
        assert_eq!(got[1].data(), format!("{value}\n{value}\u{b}!"));
    }
}

/// Long lines at every line and event limit around their length: appending whole chunks in
/// the middle of a line reports the same events and the same error as the byte path.
#[test]
fn mid_line_appends_match_the_byte_path_at_every_limit() {
    let value = "0123456789".repeat(7);
    let input = format!("data: {value}\ndata:{value}\n\n");
    // Cut inside a line: a limit it passes must be reported all the same, at that push.
    let cut_first = &input[..value.len() + 6];
    let cut_second = &input[..input.len() - 5];
    for line in (60..=80).step_by(2) {
        for event in (130..=150).step_by(3) {
            let limits = SseLimits::new()
                .max_line_bytes(NonZeroUsize::new(line).unwrap())
                .max_event_bytes(NonZeroUsize::new(event).unwrap());
            let inputs = [
                ("whole", input.as_str()),
                ("cut in the first line", cut_first),
                ("cut in the second line", cut_second),
            ];
            for (name, input) in inputs {
                let what = format!("{name}, line {line}, event {event}");
                let whole = limited_all_ways(limits, input.as_bytes(), &what);
                for size in [3, 7, 64, 65] {
                    let mut d = SseDecoder::with_limits(limits);
                    let mut out = Vec::new();
                    let err = input
                        .as_bytes()
                        .chunks(size)
                        .find_map(|c| d.push(c, &mut out).err());
                    assert_eq!((view(&out), err), whole, "{what}, chunks of {size}");
                }
                let fits = match name {
                    "whole" => line >= 76 && event >= 142,
                    "cut in the first line" => line >= 76,
                    _ => line >= 76 && event >= 137,
                };
                assert_eq!(whole.1.is_none(), fits, "{what}: {whole:?}");
            }
        }
    }
}

/// Data of `HAND_OVER_BYTES` or more goes to `push`'s events without a copy; the events are
/// the same as `push_with` delivers (which always borrows), in any chunking, invalid UTF-8
/// included, and the decoder goes on with a fresh buffer.
#[test]
fn large_data_handed_over_matches_borrowed_delivery() {
    let big = |n: usize| -> Vec<u8> { (0..n).map(|i| b'a' + (i % 26) as u8).collect() };
    let mut input = Vec::new();
    for (len, bad) in [
        (HAND_OVER_BYTES - 1, false),
        (HAND_OVER_BYTES, false),
        (HAND_OVER_BYTES + 7, true),
        (3, false),
        (2 * HAND_OVER_BYTES, false),
    ] {
        input.extend_from_slice(b"event: e\ndata: ");
        let mut value = big(len);
        if bad {
            value[len / 2] = 0xff;
        }
        input.extend_from_slice(&value);
        input.extend_from_slice(b"\r\ndata: tail\n\n");
    }
    let borrowed = |size: usize| {
        let mut d = SseDecoder::new();
        let mut out = Vec::new();
        for chunk in input.chunks(size) {
            d.push_with(chunk, |e| out.push(e.to_event())).unwrap();
        }
        out
    };
    let want = borrowed(input.len());
    assert_eq!(want.len(), 5);
    assert_eq!(want[1].data().len(), HAND_OVER_BYTES + "\ntail".len());
    assert!(want[2].data().contains('\u{fffd}'));
    for size in [1, 7, 64, 4096, 65_537, input.len()] {
        let mut d = SseDecoder::new();
        let mut out = Vec::new();
        for chunk in input.chunks(size) {
            d.push(chunk, &mut out).unwrap();
        }
        assert!(!d.finish().unwrap());
        assert_eq!(out, want, "push, chunks of {size}");
        assert_eq!(borrowed(size), want, "push_with, chunks of {size}");
    }
}

/// `push_with_until_brace_line` stops exactly before every line that starts with `{` (and
/// nowhere else: not at `{` inside a value, not after a BOM), whatever the chunking; fed
/// the rest with `push_with`, it gives the events `push_with` alone gives.
#[test]
fn stops_before_lines_that_start_with_a_brace() {
    let input: &[u8] =
        b"\xEF\xBB\xBFdata: {\"a\":1}\r\n\r\n{\r\n  \"error\": {}\r\n}\r\ndata: {x\n\n{\"b\":2}";
    let starts: Vec<usize> = (0..input.len())
        .filter(|&i| input[i] == b'{' && i > 0 && matches!(input[i - 1], b'\n' | b'\r'))
        .collect();
    assert_eq!(starts.len(), 2);
    let plain = decode_whole(input);
    for size in 1..=input.len() {
        let mut d = SseDecoder::new();
        let (mut events, mut stops) = (Vec::new(), Vec::new());
        for (k, chunk) in input.chunks(size).enumerate() {
            let mut rest = chunk;
            let mut offset = k * size;
            while let Some(at) = d
                .push_with_until_brace_line(rest, |e| events.push(e.to_event()))
                .unwrap()
            {
                stops.push(offset + at);
                // Read the `{` as SSE, then watch again.
                d.push_with(&rest[at..at + 1], |e| events.push(e.to_event()))
                    .unwrap();
                offset += at + 1;
                rest = &rest[at + 1..];
            }
        }
        d.finish().unwrap();
        assert_eq!(stops, starts, "chunks of {size}");
        assert_eq!(events, plain, "chunks of {size}");
    }
}
