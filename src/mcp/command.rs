//! Splitting a `--mcp "COMMAND"` into a program and its arguments, the way a POSIX shell
//! splits words, without the rest of the shell.
//!
//! What is kept from the shell (POSIX, Shell Command Language, 2.2 Quoting and 2.6.5 Field
//! Splitting):
//!
//! - blanks (space, tab, newline) separate words; several in a row are one separator;
//! - "Enclosing characters in single-quotes shall preserve the literal value of each
//!   character within the single-quotes";
//! - within double quotes "the backslash shall retain its special meaning as an escape
//!   character only when followed by one of the following characters: `$` `` ` `` `"` `\`
//!   or `<newline>`"; a backslash before any other character stays;
//! - "A backslash that is not quoted shall preserve the literal value of the following
//!   character", and a backslash before a newline joins the lines;
//! - quotes join with what touches them: `--name="a b"` is one word, `--name=a b`;
//!   `''` is an empty word.
//!
//! What is not: no variables, no globs, no `~`, no command substitution (`$`, `*`, `?`, `~`
//! are ordinary characters), and no operators. An unquoted `|`, `&`, `;`, `<`, `>`, `(`,
//! `)` or `` ` `` is refused rather than passed on as an argument: it means the line was
//! written for a shell, and the shell is one word away (`sh -c '...'`).

use std::fmt;

/// Why a command line could not be split.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum SplitError {
    /// No word at all.
    Empty,
    /// A quote opened at this byte offset never closes.
    UnclosedQuote { quote: char, at: usize },
    /// The line ends with a backslash that escapes nothing.
    TrailingBackslash,
    /// An unquoted shell operator at this byte offset.
    Operator { operator: char, at: usize },
}

impl fmt::Display for SplitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SplitError::Empty => f.write_str("the command is empty"),
            SplitError::UnclosedQuote { quote, at } => {
                write!(f, "the {quote} quote at byte {at} is never closed")
            }
            SplitError::TrailingBackslash => f.write_str("the command ends with a lone backslash"),
            SplitError::Operator { operator, at } => write!(
                f,
                "`{operator}` at byte {at} is a shell operator, and the command is not run by a \
                 shell (quote it, or run `sh -c '...'`)"
            ),
        }
    }
}

/// Where the splitter is between two characters.
#[derive(Clone, Copy, PartialEq, Eq)]
enum State {
    /// Between words.
    Blank,
    /// In a word, outside quotes.
    Word,
    /// Inside '...', opened at this offset.
    Single(usize),
    /// Inside "...", opened at this offset.
    Double(usize),
}

/// Splits `line` into words (the program first).
///
/// # Errors
///
/// [`SplitError`]: nothing to run, an unclosed quote, a trailing backslash, or a shell
/// operator outside quotes.
pub(crate) fn split(line: &str) -> Result<Vec<String>, SplitError> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut state = State::Blank;
    let mut chars = line.char_indices().peekable();
    while let Some((at, c)) = chars.next() {
        state = match state {
            State::Blank | State::Word => match c {
                ' ' | '\t' | '\n' => {
                    if state == State::Word {
                        words.push(std::mem::take(&mut word));
                    }
                    State::Blank
                }
                '\'' => State::Single(at),
                '"' => State::Double(at),
                '\\' => match chars.next() {
                    // A backslash-newline joins lines: it is removed, and so is the newline.
                    Some((_, '\n')) => state,
                    Some((_, escaped)) => {
                        word.push(escaped);
                        State::Word
                    }
                    None => return Err(SplitError::TrailingBackslash),
                },
                '|' | '&' | ';' | '<' | '>' | '(' | ')' | '`' => {
                    return Err(SplitError::Operator { operator: c, at })
                }
                c => {
                    word.push(c);
                    State::Word
                }
            },
            State::Single(open) => match c {
                '\'' => State::Word,
                c => {
                    word.push(c);
                    State::Single(open)
                }
            },
            State::Double(open) => match c {
                '"' => State::Word,
                '\\' => {
                    match chars.peek() {
                        Some((_, '\n')) => {
                            chars.next();
                        }
                        Some(&(_, escaped @ ('$' | '`' | '"' | '\\'))) => {
                            chars.next();
                            word.push(escaped);
                        }
                        _ => word.push('\\'),
                    }
                    State::Double(open)
                }
                c => {
                    word.push(c);
                    State::Double(open)
                }
            },
        };
    }
    match state {
        State::Single(at) => return Err(SplitError::UnclosedQuote { quote: '\'', at }),
        State::Double(at) => return Err(SplitError::UnclosedQuote { quote: '"', at }),
        State::Word => words.push(word),
        State::Blank => {}
    }
    if words.is_empty() {
        return Err(SplitError::Empty);
    }
    Ok(words)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One case per line: the command, then the words (or the error).
    macro_rules! splits {
        ($($line:expr => [$($word:expr),* $(,)?]),* $(,)?) => {$(
            assert_eq!(split($line), Ok(vec![$($word.to_string()),*]), "{:?}", $line);
        )*};
    }

    macro_rules! refuses {
        ($($line:expr => $error:expr),* $(,)?) => {$(
            assert_eq!(split($line), Err($error), "{:?}", $line);
        )*};
    }

    #[test]
    fn words() {
        splits! {
            "server" => ["server"],
            "  python3   server.py  " => ["python3", "server.py"],
            "npx -y @modelcontextprotocol/server-everything" =>
                ["npx", "-y", "@modelcontextprotocol/server-everything"],
            "a\tb\nc" => ["a", "b", "c"],
            "'a b' c" => ["a b", "c"],
            "\"a b\" c" => ["a b", "c"],
            "--name=\"a b\"" => ["--name=a b"],
            "x'y'\"z\"" => ["xyz"],
            "'' \"\"" => ["", ""],
            "a\\ b" => ["a b"],
            "a\\\\b" => ["a\\b"],
            "a\\\nb" => ["ab"],
            "'it\\'s" => ["it\\s"],
            "\"a\\\"b\"" => ["a\"b"],
            "\"a\\$b\\`c\\\\d\"" => ["a$b`c\\d"],
            "\"a\\nb\"" => ["a\\nb"],
            "\"a\\\nb\"" => ["ab"],
            "'$HOME' $HOME *.py ~" => ["$HOME", "$HOME", "*.py", "~"],
            "'a|b' \"c;d\" e\\&f" => ["a|b", "c;d", "e&f"],
            "é 'ü ñ'" => ["é", "ü ñ"],
        }
    }

    #[test]
    fn refusals() {
        refuses! {
            "" => SplitError::Empty,
            "   \t\n" => SplitError::Empty,
            "'a" => SplitError::UnclosedQuote { quote: '\'', at: 0 },
            "x \"a b" => SplitError::UnclosedQuote { quote: '"', at: 2 },
            "a \\" => SplitError::TrailingBackslash,
            "a | b" => SplitError::Operator { operator: '|', at: 2 },
            "cd x && y" => SplitError::Operator { operator: '&', at: 5 },
            "a;b" => SplitError::Operator { operator: ';', at: 1 },
            "a > log" => SplitError::Operator { operator: '>', at: 2 },
            "echo `x`" => SplitError::Operator { operator: '`', at: 5 },
            "f(x)" => SplitError::Operator { operator: '(', at: 1 },
        }
    }

    #[test]
    fn errors_read_as_reasons() {
        assert_eq!(
            split("a 'b").unwrap_err().to_string(),
            "the ' quote at byte 2 is never closed"
        );
        assert!(split("a|b")
            .unwrap_err()
            .to_string()
            .starts_with("`|` at byte 1 is a shell operator"));
    }
}
