//! The AWS event-stream decoder: the same messages and error whatever the chunking, and
//! every decoded message re-encodes to exactly the bytes it came from.
#![no_main]

use std::num::NonZeroUsize;

use libfuzzer_sys::fuzz_target;
use toolstream::eventstream::{encode_message, Message};
use toolstream::{EventStreamDecoder, EventStreamError, EventStreamLimits};
use toolstream_fuzz::{chunks, split_seed};

fn run<'a>(
    limits: EventStreamLimits,
    input: impl IntoIterator<Item = &'a [u8]>,
) -> (Vec<Message>, Option<EventStreamError>) {
    let mut d = EventStreamDecoder::with_limits(limits);
    let mut out = Vec::new();
    for c in input {
        if let Err(e) = d.push(c, &mut out) {
            return (out, Some(e));
        }
    }
    let end = d.finish().err();
    (out, end)
}

fuzz_target!(|data: &[u8]| {
    let (seed, body) = split_seed(data);
    let small = EventStreamLimits::new().max_message_bytes(NonZeroUsize::new(512).unwrap());
    for limits in [EventStreamLimits::new(), small] {
        let whole = run(limits, [body]);
        let cut = run(limits, chunks(body, seed));
        assert_eq!(whole, cut, "the chunking changed the messages");
        let mut offset = 0;
        for m in &whole.0 {
            let bytes = encode_message(m.headers(), m.payload());
            assert!(bytes.len() <= limits.get_max_message_bytes());
            assert_eq!(&body[offset..offset + bytes.len()], &bytes[..]);
            offset += bytes.len();
        }
        if whole.1.is_none() {
            assert_eq!(offset, body.len(), "a clean end consumed every byte");
        }
    }
});
