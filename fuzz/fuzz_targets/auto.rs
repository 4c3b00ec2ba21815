//! Provider detection (`auto`): the same events and errors whatever the chunking.
#![no_main]

use libfuzzer_sys::fuzz_target;
use toolstream::ProviderChoice;

fuzz_target!(|data: &[u8]| {
    toolstream_fuzz::check_provider(ProviderChoice::Auto, data);
});
