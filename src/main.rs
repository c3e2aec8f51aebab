//! The `clustersim` binary: see `clustersim --help` and the README.

fn main() -> std::process::ExitCode {
    clustersim_analysis::cli::main()
}
