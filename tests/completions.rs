//! `crawl completions SHELL` and `crawl man`: what they print comes from the same clap
//! definitions as `--help`, so they name the real flags and values; and a URLs file named
//! like one of these commands can still be crawled.

use std::path::Path;
use std::process::{Command, Output};

use crate::support::*;

/// Runs the binary with `args` (and nothing else) in `dir`, with nothing on standard input.
fn run_in(dir: &Path, args: &[&str]) -> Output {
    CrawlCmd::bare().args(args).current_dir(dir).output()
}

fn printed(args: &[&str]) -> String {
    let out = run_in(&std::env::temp_dir(), args);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.stderr.is_empty(), "{args:?} wrote to stderr");
    String::from_utf8(out.stdout).expect("UTF-8")
}

/// The long flags `--help` lists, each at the start of an option's line.
fn long_flags_of_help() -> Vec<String> {
    let help = printed(&["--help"]);
    let mut flags: Vec<String> = help
        .lines()
        .map(str::trim_start)
        .filter(|l| l.starts_with('-'))
        .filter_map(|l| {
            l.split([' ', ','])
                .find(|w| w.starts_with("--"))
                // A flag that counts (`-v, --verbose...`) is listed with an ellipsis.
                .map(|w| w.trim_end_matches("...").to_string())
        })
        .collect();
    flags.dedup();
    flags
}

#[test]
fn completions_name_the_real_flags_and_the_modes() {
    let flags = long_flags_of_help();
    assert!(
        flags.len() > 30 && flags.contains(&"--max-bytes".to_string()),
        "{flags:?}"
    );
    for shell in ["bash", "zsh", "fish"] {
        let script = printed(&["completions", shell]);
        for flag in &flags {
            // fish spells a long flag `-l NAME`; bash and zsh as typed.
            let spelled = match shell {
                "fish" => format!("-l {}", &flag[2..]),
                _ => flag.clone(),
            };
            assert!(script.contains(&spelled), "{shell}: no {spelled}");
        }
        for mode in modes() {
            assert!(script.contains(mode), "{shell}: no mode {mode}");
        }
        assert!(script.contains("completions") && script.contains("man"));
    }
}

#[test]
fn bash_accepts_the_script_and_it_completes_flags_and_values() {
    let dir = fresh_temp("completions", "bash", "any");
    std::fs::create_dir_all(&dir).expect("temp dir");
    let script = dir.join("crawl.bash");
    std::fs::write(&script, printed(&["completions", "bash"])).expect("write script");
    let check = Command::new("bash")
        .arg("-n")
        .arg(&script)
        .output()
        .expect("bash runs");
    assert!(
        check.status.success(),
        "{}",
        String::from_utf8_lossy(&check.stderr)
    );
    // What bash offers after each command line, as it calls the function on <Tab>.
    let complete = |words: &[&str]| {
        let words_list: Vec<String> = words.iter().map(|w| format!("'{w}'")).collect();
        let program = format!(
            "source '{}'; COMP_WORDS=({}); COMP_CWORD={}; _crawl crawl '{}' '{}'; \
             printf '%s\\n' \"${{COMPREPLY[@]}}\"",
            script.display(),
            words_list.join(" "),
            words.len() - 1,
            words[words.len() - 1],
            words[words.len() - 2],
        );
        let out = Command::new("bash")
            .arg("-c")
            .arg(program)
            .output()
            .expect("bash runs");
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(str::to_string)
            .collect::<Vec<_>>()
    };
    assert_eq!(
        complete(&["crawl", "--mode", ""]),
        modes().collect::<Vec<_>>()
    );
    assert_eq!(complete(&["crawl", "--max-b"]), ["--max-bytes"]);
    assert_eq!(complete(&["crawl", "--format", ""]), ["jsonl", "csv"]);
    assert_eq!(complete(&["crawl", "compl"]), ["completions"]);
    let shells = complete(&["crawl", "completions", ""]);
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        assert!(shells.iter().any(|s| s == shell), "{shells:?}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// What fish offers on <Tab> after `line` with `script` loaded (.ci/deps installs fish, as it
/// does redis-server).
fn fish_offers(script: &Path, line: &str) -> Vec<String> {
    let out = Command::new("fish")
        .arg("-c")
        .arg(format!(
            "source '{}'; complete -C'{line}'",
            script.display()
        ))
        .output()
        .expect("fish runs: install it with `apt-get install fish` (.ci/deps does)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        // Each is `candidate<TAB>description`.
        .map(|l| l.split('\t').next().unwrap_or(l).to_string())
        .collect()
}

#[test]
fn fish_and_zsh_accept_their_scripts_and_fish_completes_values() {
    let dir = fresh_temp("completions", "fish", "any");
    std::fs::create_dir_all(&dir).expect("temp dir");
    let zsh = dir.join("_crawl");
    std::fs::write(&zsh, printed(&["completions", "zsh"])).expect("write script");
    let check = Command::new("zsh")
        .arg("-n")
        .arg(&zsh)
        .output()
        .expect("zsh runs: install it with `apt-get install zsh` (.ci/deps does)");
    assert!(
        check.status.success(),
        "{}",
        String::from_utf8_lossy(&check.stderr)
    );
    let fish = dir.join("crawl.fish");
    std::fs::write(&fish, printed(&["completions", "fish"])).expect("write script");
    let mut modes: Vec<&str> = modes().collect();
    modes.sort();
    // Values after a flag that waits for one, and a command's values: clap_complete's fish
    // script offered file names for both until generate.rs repaired it.
    assert_eq!(fish_offers(&fish, "crawl --mode "), modes);
    assert_eq!(fish_offers(&fish, "crawl -d 1 --mode t"), ["threads"]);
    assert_eq!(fish_offers(&fish, "crawl --format "), ["csv", "jsonl"]);
    assert_eq!(fish_offers(&fish, "crawl --max-b"), ["--max-bytes"]);
    assert_eq!(fish_offers(&fish, "crawl compl"), ["completions"]);
    assert_eq!(
        fish_offers(&fish, "crawl completions "),
        ["bash", "elvish", "fish", "powershell", "zsh"]
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_man_page_has_its_sections_and_every_long_flag_of_help() {
    let roff = printed(&["man"]);
    assert!(roff.contains("\n.TH crawl 1 "), "{}", &roff[..200]);
    for section in [".SH NAME", ".SH SYNOPSIS", ".SH OPTIONS", ".SH SUBCOMMANDS"] {
        assert!(roff.contains(section), "no {section}");
    }
    // roff writes a hyphen as `\-`.
    let text = roff.replace("\\-", "-");
    for flag in long_flags_of_help() {
        assert!(text.contains(&format!("\\fB{flag}\\fR")), "no {flag}");
    }
    assert!(text.contains("Exit status: 0 when the crawl finishes"));
}

#[test]
fn an_unknown_shell_is_a_usage_error_that_lists_the_shells() {
    let out = run_in(&std::env::temp_dir(), &["completions", "tcsh"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(out.stdout.is_empty());
    assert!(
        stderr.contains("invalid value 'tcsh' for '<SHELL>'")
            && stderr.contains("[possible values: bash, elvish, fish, powershell, zsh]"),
        "{stderr}"
    );
    let out = run_in(&std::env::temp_dir(), &["completions"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("<SHELL>"));
}

#[test]
fn a_urls_file_named_like_a_command_is_still_crawled() {
    let s = server();
    let dir = fresh_temp("completions", "named-man", "any");
    std::fs::create_dir_all(&dir).expect("temp dir");
    for name in ["man", "completions"] {
        std::fs::write(dir.join(name), format!("{}\n", s.url("/about.html"))).expect("seeds");
    }
    for args in [
        &["./man"][..],
        &["--", "man"][..],
        &["--progress", "never", "man"][..],
        &["./completions"][..],
        &["-o", "-", "completions"][..],
    ] {
        let out = run_in(&dir, args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{args:?}: {stderr}");
        let records: Vec<Record> = String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{args:?}: {l:?}: {e}")))
            .collect();
        assert_eq!(records.len(), 1, "{args:?}");
        assert_eq!(records[0].url, s.url("/about.html"), "{args:?}");
    }
    assert_eq!(s.hits("/about.html"), 5);
    let _ = std::fs::remove_dir_all(&dir);
}
