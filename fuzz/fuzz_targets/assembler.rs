//! The assembler on arbitrary event sequences (decoded from the input as small
//! instructions): no panic, limits hold, and every accepted argument fragment ends up in
//! its call, in order.
#![no_main]

use std::collections::HashMap;
use std::num::NonZeroUsize;

use libfuzzer_sys::fuzz_target;
use toolstream::{
    parse_arguments, ArgumentsError, AssembleLimits, Assembler, Block, Delta, ProviderError,
    StopKind, StopReason, StreamEvent, Usage,
};

const FRAGMENTS: [&str; 12] = [
    "{", "}", "\"a\"", ":", "1", ",", "[", "]", " ", "\"", "é", "null",
];
const ARGS: usize = 24;

fn event(op: u8, arg: u8) -> StreamEvent {
    let index = usize::from(arg % 6);
    match op % 9 {
        0 => StreamEvent::MessageStart {
            id: (arg & 1 == 0).then(|| "msg".to_string()),
            model: None,
            usage: Usage::default(),
        },
        1 => {
            let block = match arg >> 4 {
                0..=5 => Block::ToolUse {
                    id: format!("call_{arg}"),
                    name: "tool".into(),
                },
                6..=9 => Block::Text,
                10..=12 => Block::Thinking,
                _ => Block::Other { kind: "x".into() },
            };
            StreamEvent::BlockStart { index, block }
        }
        2 => StreamEvent::BlockDelta {
            index,
            delta: Delta::Text("ab".repeat(usize::from(arg >> 4))),
        },
        3 | 4 => StreamEvent::BlockDelta {
            index,
            delta: Delta::ToolInput(FRAGMENTS[usize::from(arg >> 4) % FRAGMENTS.len()].into()),
        },
        5 => StreamEvent::BlockStop { index },
        6 => StreamEvent::MessageDelta {
            stop_reason: Some(StopReason::new(
                [StopKind::ToolUse, StopKind::EndTurn, StopKind::MaxTokens][index % 3],
                "r",
            )),
            usage: Usage::default(),
        },
        7 => StreamEvent::MessageStop,
        _ => StreamEvent::Error(ProviderError {
            kind: "overloaded_error".into(),
            message: "busy".into(),
        }),
    }
}

fuzz_target!(|data: &[u8]| {
    let limits = AssembleLimits::new()
        .max_blocks(NonZeroUsize::new(5).unwrap())
        .max_argument_bytes(NonZeroUsize::new(ARGS).unwrap())
        .max_text_bytes(NonZeroUsize::new(40).unwrap());
    let mut assembler = Assembler::with_limits(limits);
    // The model: block index -> (call position, accepted fragments, too large).
    let mut model: HashMap<usize, (usize, String, bool)> = HashMap::new();
    let mut completed = Vec::new();
    for pair in data.chunks_exact(2) {
        let e = event(pair[0], pair[1]);
        let calls_before = assembler.message().tool_calls.len();
        let restarts_before = assembler.message().restarts;
        let result = assembler.push(&e);
        if assembler.message().restarts != restarts_before {
            model.clear();
        }
        match (&e, &result) {
            (
                StreamEvent::BlockStart {
                    index,
                    block: Block::ToolUse { .. },
                },
                Ok(_),
            ) => {
                model.insert(*index, (calls_before, String::new(), false));
            }
            (
                StreamEvent::BlockDelta {
                    index,
                    delta: Delta::ToolInput(f),
                },
                Ok(_),
            ) => {
                if let Some((_, args, too_large)) = model.get_mut(index) {
                    if args.len() + f.len() > ARGS {
                        *too_large = true;
                    } else if !*too_large {
                        args.push_str(f);
                    }
                }
            }
            (_, Ok(Some(call))) => completed.push(*call),
            _ => {}
        }
    }
    let message = assembler.finish();
    assert!(message.blocks.len() <= 5);
    assert!(
        message
            .blocks
            .iter()
            .map(|b| b.text.len() + b.signature.len())
            .sum::<usize>()
            <= 40
    );
    for (index, (position, args, too_large)) in &model {
        let call = &message.tool_calls[*position];
        assert_eq!(call.block, *index);
        assert_eq!(&call.arguments, args, "accepted fragments, in order");
        match (&call.input, call.complete, too_large) {
            (Err(ArgumentsError::TooLarge { .. }), _, true) => {}
            (Err(ArgumentsError::Incomplete), false, _) => {}
            (input, true, false) => assert_eq!(input, &parse_arguments(args)),
            other => panic!("unexpected call state {other:?}"),
        }
    }
    for c in completed {
        assert!(message.tool_calls[c].complete);
    }
});
