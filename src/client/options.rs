//! Request options beyond the conversation itself: sampling, stop sequences, tool choice,
//! reasoning, extra headers and extra body fields, each written the way its provider
//! names it.

/// Options for every request a [`ModelClient`](super::ModelClient) sends.
#[derive(Debug, Clone, Default, PartialEq)]
#[non_exhaustive]
pub struct RequestOptions {}
