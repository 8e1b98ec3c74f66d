//! The `tollgate` binary: parse arguments, run, map the outcome to an exit code.

fn main() -> std::process::ExitCode {
    std::process::ExitCode::from(tollgate::run(std::env::args_os()))
}
