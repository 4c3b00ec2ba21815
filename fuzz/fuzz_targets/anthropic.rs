//! The Anthropic decoder (framing included): the same events and errors whatever the chunking,
//! no panic, and a consistent assembled message.
#![no_main]

use libfuzzer_sys::fuzz_target;
use toolstream::Provider;

fuzz_target!(|data: &[u8]| {
    toolstream_fuzz::check_provider(Provider::Anthropic, data);
});
