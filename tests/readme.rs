//! Every Rust sample in README.md is one the crate documentation compiles and runs.
//!
//! The README shows samples as users read them; `src/lib.rs` holds each one as a doc test,
//! with hidden (`# `) lines for declarations. This test strips the hidden lines and checks the
//! README's samples against them, so neither can drift.

/// Fenced blocks whose opening fence satisfies `opens`.
fn blocks(text: &str, opens: fn(&str) -> bool) -> Vec<String> {
    let mut out = Vec::new();
    let mut current: Option<Vec<&str>> = None;
    let mut in_other = false;
    for line in text.lines() {
        let fence = line.trim_start().starts_with("```");
        match &mut current {
            Some(lines) if fence => {
                out.push(lines.join("\n"));
                current = None;
            }
            Some(lines) => lines.push(line),
            None if fence && in_other => in_other = false,
            None if fence && opens(line.trim_start()) => current = Some(Vec::new()),
            None if fence => in_other = true,
            None => {}
        }
    }
    out
}

/// The doc-comment text of lib.rs, with `//! ` removed and hidden lines dropped.
fn lib_docs() -> String {
    let src = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/src/lib.rs")).unwrap();
    src.lines()
        .filter_map(|l| l.strip_prefix("//!"))
        .map(|l| l.strip_prefix(' ').unwrap_or(l))
        .filter(|l| !(l.starts_with("# ") || *l == "#"))
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
#[cfg_attr(
    miri,
    ignore = "reads README.md and src/lib.rs: Miri's isolation forbids files"
)]
fn every_readme_sample_is_a_doc_test() {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let samples = blocks(&readme, |fence| fence.starts_with("```rust"));
    assert!(
        !samples.is_empty(),
        "README has {} Rust samples",
        samples.len()
    );
    // In doc comments a bare fence is Rust; `ignore`/`text` blocks would not be run.
    let tested = blocks(&lib_docs(), |fence| fence == "```" || fence == "```rust");
    for sample in &samples {
        assert!(
            tested.iter().any(|t| t == sample),
            "this README sample is not a doc test in src/lib.rs:\n{sample}"
        );
    }
}

/// The error line the README shows is the one `examples/first_program.rs` documents, which
/// `tests/memlock_limit.rs` checks against a real unprivileged run.
#[test]
#[cfg_attr(
    miri,
    ignore = "reads README.md and an example: Miri's isolation forbids files"
)]
fn the_readme_shows_the_error_the_first_program_prints() {
    let read = |path: &str| {
        std::fs::read_to_string(format!("{}/{path}", env!("CARGO_MANIFEST_DIR"))).unwrap()
    };
    let line = |text: &str| {
        text.lines()
            .map(|l| l.trim_start_matches("//!").trim())
            .find(|l| l.starts_with("Error: MemlockLimit"))
            .map(str::to_owned)
    };
    let shown = line(&read("README.md")).expect("the README shows the memlock error");
    let documented = line(&read("examples/first_program.rs")).expect("the example documents it");
    assert_eq!(shown, documented);
    assert!(
        shown.contains("sudo prlimit --memlock=unlimited --pid $$"),
        "{shown}"
    );
}

#[test]
fn the_block_reader_tells_samples_apart() {
    let text = "a\n```rust\nlet x = 1;\n```\n```bash\nls\n```\n```rust\nlet y;\n```\n";
    let rust = blocks(text, |f| f.starts_with("```rust"));
    assert_eq!(rust, ["let x = 1;", "let y;"]);
}
