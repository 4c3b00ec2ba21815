//! The README's first program is `examples/quickstart.rs`, line for line (the example is
//! built by `cargo test`, and the README's code blocks run as doctests): what a user pastes
//! compiles.

#[test]
fn the_readme_program_is_the_quickstart_example() {
    let readme = include_str!("../README.md");
    let example = include_str!("../examples/quickstart.rs");
    let program: Vec<&str> = example
        .lines()
        .filter(|l| !l.starts_with("//!"))
        .skip_while(|l| l.is_empty())
        .collect();
    let start = readme
        .find("## A first program")
        .expect("the README has its first program");
    let block = &readme[start..];
    let open = block.find("```rust\n").expect("a rust block") + "```rust\n".len();
    let close = open + block[open..].find("\n```").expect("the block ends");
    let pasted: Vec<&str> = block[open..close].lines().collect();
    assert_eq!(pasted, program);
    // Nothing hidden: every line is what a user sees.
    assert!(pasted.iter().all(|l| !l.trim_start().starts_with("# ")));
}

/// The README's Rust blocks are whole programs: no doctest-only `# ` lines that would not
/// compile when pasted.
#[test]
fn no_readme_block_hides_lines() {
    let readme = include_str!("../README.md");
    let mut in_rust = false;
    for (n, line) in readme.lines().enumerate() {
        if line.starts_with("```") {
            in_rust = !in_rust && line.starts_with("```rust");
            continue;
        }
        if in_rust {
            let t = line.trim_start();
            assert!(
                !(t == "#" || t.starts_with("# ")),
                "README.md line {}: a hidden doctest line: {line}",
                n + 1
            );
        }
    }
}
