//! `crawl completions SHELL` and `crawl man`: shell completions and the man page, generated
//! from the clap definitions in `crawl::cli`, so they list exactly the flags `--help` does.
//! Only with the `man` feature (clap_complete, clap_mangen): without it the binary answers
//! both commands with an error.

use std::io::Write;

use clap::CommandFactory;
use clap_complete::Shell;
use crawl::cli::{self, Args};

/// The name the scripts complete and the man page documents: the installed program's.
const NAME: &str = "crawl";

/// Writes the completion script for `shell` to standard output.
pub fn completions(shell: cli::Shell) -> std::io::Result<()> {
    let shell = match shell {
        cli::Shell::Bash => Shell::Bash,
        cli::Shell::Elvish => Shell::Elvish,
        cli::Shell::Fish => Shell::Fish,
        cli::Shell::PowerShell => Shell::PowerShell,
        cli::Shell::Zsh => Shell::Zsh,
    };
    let mut command = Args::command();
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut command, NAME, &mut script);
    if shell == Shell::Fish {
        script = repair_fish(&command, String::from_utf8_lossy(&script).into_owned()).into();
    }
    let mut out = std::io::stdout().lock();
    out.write_all(&script)?;
    out.flush()
}

/// Writes the man page (roff) to standard output.
pub fn man() -> std::io::Result<()> {
    let mut out = std::io::stdout().lock();
    clap_mangen::Man::new(Args::command()).render(&mut out)?;
    out.flush()
}

/// The guard clap_complete's fish script puts on every top-level completion, as it writes it.
const FISH_GUARD: &str =
    "    argparse -s (__fish_crawl_global_optspecs) -- $cmd 2>/dev/null\n    or return\n";

/// Two gaps of clap_complete's fish script once a command has subcommands, where fish then
/// offers file names instead: the guard fails while an option waits for its value, so
/// `crawl --mode <Tab>` offered no modes; and a subcommand's positional values are not
/// listed, so `crawl completions <Tab>` offered no shells. Both repairs read the same
/// clap definitions. Should a clap_complete update change the guard's text, the script is
/// left as generated (tests/completions.rs then fails on what fish offers).
fn repair_fish(command: &clap::Command, script: String) -> String {
    // A command line that does not parse yet (an option still waiting for its value) is at
    // the top level: crawl takes a command word only first, before any option.
    let mut script = script.replacen(
        FISH_GUARD,
        &FISH_GUARD.replace("or return\n", "or return 0\n"),
        1,
    );
    for sub in command.get_subcommands() {
        for arg in sub.get_positionals() {
            let values: Vec<String> = arg
                .get_possible_values()
                .iter()
                .filter(|v| !v.is_hide_set())
                .map(|v| v.get_name().to_string())
                .collect();
            if !values.is_empty() {
                script.push_str(&format!(
                    "complete -c {NAME} -n \"__fish_{NAME}_using_subcommand {}\" -f -a \"{}\"\n",
                    sub.get_name(),
                    values.join(" ")
                ));
            }
        }
    }
    script
}
