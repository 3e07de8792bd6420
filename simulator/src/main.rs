//! `raftsim`: see `raftsim --help` and README.md.

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    std::process::exit(simulator::cli::main());
}
