//! The `tollgate` binary: parse arguments, run, map the outcome to an exit code.

/// Documents are millions of small allocations made and freed on every worker thread.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    // Rego evaluation creates and drops errors as it goes; with RUST_BACKTRACE set (common in
    // CI) each would capture a backtrace, under a process-wide unwinder lock. Panics still get
    // theirs from RUST_BACKTRACE.
    if std::env::var_os("RUST_LIB_BACKTRACE").is_none() {
        // SAFETY: no other thread exists yet.
        unsafe { std::env::set_var("RUST_LIB_BACKTRACE", "0") };
    }
    std::process::ExitCode::from(tollgate::run(std::env::args_os()))
}
