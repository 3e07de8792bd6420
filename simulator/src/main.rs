//! `raftsim`: see `raftsim --help` and README.md.

fn main() {
    std::process::exit(simulator::cli::main());
}
