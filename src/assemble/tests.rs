use super::*;

fn start(index: usize, id: &str) -> StreamEvent {
    StreamEvent::BlockStart {
        index,
        block: Block::ToolUse {
            id: id.into(),
            name: "t".into(),
        },
    }
}

fn args(index: usize, s: &str) -> StreamEvent {
    StreamEvent::BlockDelta {
        index,
        delta: Delta::ToolInput(s.into()),
    }
}

#[test]
fn interleaved_deltas_are_routed_by_index() {
    let mut a = Assembler::new();
    for e in [
        start(0, "a"),
        start(1, "b"),
        args(1, "{\"y\":"),
        args(0, "{\"x\":"),
        args(0, "1}"),
        args(1, "2}"),
    ] {
        a.push(&e).unwrap();
    }
    assert_eq!(a.push(&StreamEvent::BlockStop { index: 1 }), Ok(Some(1)));
    assert_eq!(a.push(&StreamEvent::BlockStop { index: 0 }), Ok(Some(0)));
    let m = a.finish();
    assert_eq!(m.tool_calls[0].input, Ok(serde_json::json!({"x": 1})));
    assert_eq!(m.tool_calls[1].input, Ok(serde_json::json!({"y": 2})));
}

/// Block indices in any order and density: at their own position (found without the
/// map), sparse (found through it), and an index equal to another block's position.
#[test]
fn sparse_and_dense_indices_are_routed_and_duplicates_found() {
    let mut a = Assembler::new();
    for e in [
        start(0, "a"),
        start(7, "b"),
        start(1, "c"),
        start(2, "d"),
        args(7, "{\"b\":"),
        args(0, "{\"a\":"),
        args(2, "{\"d\":"),
        args(1, "{\"c\":"),
        args(7, "1}"),
        args(0, "2}"),
        args(1, "3}"),
        args(2, "4}"),
    ] {
        a.push(&e).unwrap();
    }
    for (index, id) in [(0, "a"), (7, "b"), (1, "c"), (2, "d")] {
        assert_eq!(
            a.push(&start(index, "again")),
            Err(AssembleError::DuplicateBlock { index }),
            "{id}"
        );
    }
    assert_eq!(
        a.push(&args(3, "x")),
        Err(AssembleError::UnknownBlock { index: 3 })
    );
    for (index, call) in [(2, 3), (7, 1), (1, 2), (0, 0)] {
        assert_eq!(a.push(&StreamEvent::BlockStop { index }), Ok(Some(call)));
    }
    let m = a.finish();
    let inputs: Vec<_> = m
        .tool_calls
        .iter()
        .map(|c| (&*c.id, c.input.clone().unwrap()))
        .collect();
    assert_eq!(
        inputs,
        [
            ("a", serde_json::json!({"a": 2})),
            ("b", serde_json::json!({"b": 1})),
            ("c", serde_json::json!({"c": 3})),
            ("d", serde_json::json!({"d": 4})),
        ]
    );
}

#[test]
fn prefix_that_parses_is_not_complete() {
    let mut a = Assembler::new();
    a.push(&start(0, "a")).unwrap();
    a.push(&args(0, "{\"q\":\"x\"}")).unwrap();
    let m = a.finish();
    assert!(!m.tool_calls[0].complete);
    assert_eq!(m.tool_calls[0].input, Err(ArgumentsError::Incomplete));
}

#[test]
fn argument_errors_say_why() {
    assert_eq!(parse_arguments(""), Ok(serde_json::json!({})));
    assert_eq!(parse_arguments("  "), Ok(serde_json::json!({})));
    assert_eq!(
        parse_arguments("[1]"),
        Err(ArgumentsError::NotAnObject { found: "array" })
    );
    let e = parse_arguments("{\"q\": \"x\",}").unwrap_err();
    assert!(e
        .to_string()
        .starts_with("invalid JSON in tool arguments: "));
}

#[test]
fn unknown_and_duplicate_blocks_are_errors() {
    let mut a = Assembler::new();
    assert_eq!(
        a.push(&args(3, "{}")),
        Err(AssembleError::UnknownBlock { index: 3 })
    );
    a.push(&start(0, "a")).unwrap();
    assert_eq!(
        a.push(&start(0, "b")),
        Err(AssembleError::DuplicateBlock { index: 0 })
    );
}

#[test]
fn spliced_message_start_drops_the_partial_message() {
    let start_msg = StreamEvent::MessageStart {
        id: Some("msg_1".into()),
        model: None,
        usage: Usage::default(),
    };
    let mut a = Assembler::new();
    a.push(&start_msg).unwrap();
    a.push(&start_msg).unwrap(); // a duplicate before any content changes nothing
    a.push(&start(0, "cut")).unwrap();
    a.push(&args(0, "{\"path\": \"/tm")).unwrap();
    a.push(&start_msg).unwrap();
    a.push(&start(0, "whole")).unwrap();
    a.push(&args(0, "{}")).unwrap();
    assert_eq!(a.push(&StreamEvent::BlockStop { index: 0 }), Ok(Some(0)));
    let m = a.finish();
    assert_eq!(m.restarts, 1);
    assert_eq!(m.tool_calls.len(), 1);
    assert_eq!(&*m.tool_calls[0].id, "whole");
}

#[test]
fn argument_limit() {
    let limits = AssembleLimits::new().max_argument_bytes(NonZeroUsize::new(4).unwrap());
    let mut a = Assembler::with_limits(limits);
    a.push(&start(0, "a")).unwrap();
    a.push(&args(0, "{\"a\":1}")).unwrap();
    a.push(&StreamEvent::BlockStop { index: 0 }).unwrap();
    let m = a.finish();
    assert_eq!(
        m.tool_calls[0].input,
        Err(ArgumentsError::TooLarge { limit: 4 })
    );
    assert!(m.tool_calls[0].arguments.is_empty());
}

#[test]
fn error_wins_over_later_stop_but_keeps_its_raw() {
    let mut a = Assembler::new();
    a.push(&StreamEvent::Error(ProviderError {
        kind: "rate_limit_exceeded".into(),
        message: "slow down".into(),
    }))
    .unwrap();
    a.push(&StreamEvent::MessageDelta {
        stop_reason: Some(StopReason::new(StopKind::Error, "failed")),
        usage: Usage::default(),
    })
    .unwrap();
    let m = a.finish();
    assert_eq!(
        m.stop_reason,
        Some(StopReason::new(StopKind::Error, "failed"))
    );
    assert_eq!(m.error.unwrap().kind, "rate_limit_exceeded");
}

#[test]
fn tool_calls_past_the_limit_are_refused() {
    let limits = AssembleLimits::new().max_tool_calls(NonZeroUsize::new(2).unwrap());
    let mut a = Assembler::with_limits(limits);
    a.push(&start(0, "a")).unwrap();
    a.push(&StreamEvent::BlockStart {
        index: 1,
        block: Block::Text,
    })
    .unwrap();
    a.push(&start(2, "b")).unwrap();
    assert_eq!(
        a.push(&start(3, "c")),
        Err(AssembleError::TooManyToolCalls { limit: 2 })
    );
    assert_eq!(
        a.push(&args(3, "{}")),
        Err(AssembleError::UnknownBlock { index: 3 }),
        "the refused call's deltas do not land anywhere"
    );
    let m = a.finish();
    assert_eq!(m.tool_calls.len(), 2);
    assert_eq!(m.blocks.len(), 3);
}

#[test]
fn nesting_deeper_than_the_limit_is_named() {
    let nested = |depth: usize| format!("{}{}", "{\"a\":".repeat(depth), "1") + &"}".repeat(depth);
    let limits = AssembleLimits::new().max_argument_depth(NonZeroUsize::new(3).unwrap());
    for (depth, ok) in [(3, true), (4, false)] {
        let mut a = Assembler::with_limits(limits);
        a.push(&start(0, "a")).unwrap();
        a.push(&args(0, &nested(depth))).unwrap();
        a.push(&StreamEvent::BlockStop { index: 0 }).unwrap();
        let input = &a.finish().tool_calls[0].input;
        if ok {
            assert!(input.is_ok(), "{input:?}");
        } else {
            assert_eq!(input, &Err(ArgumentsError::TooDeep { limit: 3 }));
        }
    }
    // Brackets inside strings are text, escaped quotes do not end the string.
    assert!(parse_arguments_with_depth(r#"{"a":"[[[[{{{{\"[[[["}"#, 1).is_ok());
    // The default stays under serde_json's own limit, so the error is named.
    assert_eq!(
        parse_arguments(&nested(65)),
        Err(ArgumentsError::TooDeep { limit: 64 })
    );
    assert!(parse_arguments(&nested(64)).is_ok());
    assert!(
        matches!(
            parse_arguments_with_depth(&nested(128), 200),
            Err(ArgumentsError::InvalidJson { .. })
        ),
        "past serde_json's own limit"
    );
}

/// A verbatim replaces the block's earlier one, so only the latest counts against the text
/// limit: a provider that restates its state piece by piece never trips it, one larger
/// than the limit still does.
#[test]
fn a_replaced_verbatim_counts_once_against_the_text_limit() {
    let limits = AssembleLimits::new().max_text_bytes(NonZeroUsize::new(100).unwrap());
    let mut asm = Assembler::with_limits(limits);
    let block = |i| StreamEvent::BlockStart {
        index: i,
        block: Block::RedactedThinking,
    };
    let verbatim = |i, n: usize| StreamEvent::BlockDelta {
        index: i,
        delta: Delta::Verbatim(format!("\"{}\"", "x".repeat(n))),
    };
    asm.push(&block(0)).unwrap();
    for n in 1..=90 {
        asm.push(&verbatim(0, n)).unwrap();
    }
    assert_eq!(
        asm.message().blocks[0].verbatim.as_deref().unwrap().len(),
        92
    );
    asm.push(&block(1)).unwrap();
    assert_eq!(
        asm.push(&verbatim(1, 20)),
        Err(AssembleError::TextTooLarge { limit: 100 })
    );
}
